import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { assemble } from '../../vm/asm/assembler.js';
import { parseVector } from '../../vm/conformance/vector.js';
import { decode } from '../../vm/decode.js';
import { testMemoryEntry } from '../../vm/verifier/state.js';
import { verify } from '../../vm/verifier/verify.js';
import { CONFORMANCE_DIR } from '../support/paths.js';

/**
 * The conformance suite under a test program type whose context is the test memory (r1 points
 * at it, r2 holds its size): the verifier accepts every program but callx, which the kernel's
 * instruction set does not have (the kernel refuses it: "BPF_CALL uses reserved fields"), and
 * the shifts by an immediate out of [0, width) (the suite's *-imm-high/-neg vectors, defined
 * there as masked shifts), which check_alu_op refuses: "invalid shift N" (the running kernel's
 * answer, test/differential/verifierUnsafe.test.ts).
 */
describe('verifier over the conformance suite', () => {
  it('accepts every program of the suite but callx and out-of-range immediate shifts', function () {
    if (!existsSync(join(CONFORMANCE_DIR, 'tests'))) this.skip();
    const dir = join(CONFORMANCE_DIR, 'tests');
    const refused: string[] = [];
    let n = 0;
    for (const f of readdirSync(dir)
      .filter((x) => x.endsWith('.data'))
      .sort()) {
      const v = parseVector(f, readFileSync(join(dir, f), 'utf8'));
      const insns = v.raw ? decode(v.raw) : assemble(v.asm!);
      const r = verify(insns, { progType: 0, ops: verifierOpsOf(0), entry: testMemoryEntry(v.mem.length) });
      n++;
      if (!r.ok) refused.push(`${f}: insn ${r.insn}: ${r.message}`);
    }
    assert.ok(n > 300, `${n} programs`);
    assert.deepEqual(refused, [
      'arsh32-imm-high.data: insn 2: invalid shift 48',
      'arsh32-imm-neg.data: insn 2: invalid shift -16',
      'arsh64-imm-high.data: insn 2: invalid shift 124',
      'arsh64-imm-neg.data: insn 2: invalid shift -4',
      'callx.data: insn 2: BPF_CALL uses reserved fields',
      'lsh32-imm-high.data: insn 1: invalid shift 60',
      'lsh32-imm-neg.data: insn 1: invalid shift -4',
      'lsh64-imm-high.data: insn 1: invalid shift 68',
      'lsh64-imm-neg.data: insn 1: invalid shift -60',
      'rsh32-imm-high.data: insn 2: invalid shift 40',
      'rsh32-imm-neg.data: insn 2: invalid shift -24',
      'rsh64-imm-high.data: insn 1: invalid shift 68',
      'rsh64-imm-neg.data: insn 1: invalid shift -60',
    ]);
  });
});
