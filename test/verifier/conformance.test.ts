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
 * instruction set does not have (the kernel refuses it: "BPF_CALL uses reserved fields").
 */
describe('verifier over the conformance suite', () => {
  it('accepts every program of the suite but callx', function () {
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
    assert.deepEqual(refused, ['callx.data: insn 2: BPF_CALL uses reserved fields']);
  });
});
