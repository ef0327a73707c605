import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProgType } from '../../hooks/progType.js';
import { encode } from '../../vm/decode.js';
import { type Instruction, insn } from '../../vm/instruction.js';
import { entryState } from '../../vm/verifier/state.js';
import { verifyPaths } from '../../vm/verifier/walk.js';
import { REPO_ROOT } from '../support/paths.js';

/**
 * Differential: programs with branches and bounded loops through the kernel's verifier and
 * bpfbox's path walk: errors on one path only, branches the bounds decide (their dead side is
 * not checked), refinement that makes an access safe, loops that end.
 */
const SOCK = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;
const len = insn(0x61, 2, 1, 0, 0); // r2 = skb->len (unknown u32)
const exit0 = [insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)];
const PROBES: [string, Instruction[]][] = [
  ['a misaligned store on the taken side only', [len, insn(0x25, 2, 0, 1, 100), insn(0x62, 10, 0, -6, 0), ...exit0]],
  ['the same, on the fall-through side', [len, insn(0x25, 2, 0, 2, 100), insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0), insn(0x62, 10, 0, -6, 0), ...exit0]],
  ['r0 unset on one path', [len, insn(0x15, 2, 0, 1, 7), insn(0xb7, 0, 0, 0, 1), insn(0x95, 0, 0, 0, 0)]],
  ['a branch the constant decides: its other side is dead', [insn(0xb7, 2, 0, 0, 5), insn(0x25, 2, 0, 1, 10), insn(0x05, 0, 0, 1, 0), insn(0x62, 10, 0, -6, 0), ...exit0]],
  ['a 32-bit branch the constant decides', [insn(0xb7, 2, 0, 0, -1), insn(0x26, 2, 0, 1, 10), insn(0x05, 0, 0, 1, 0), insn(0x62, 10, 0, -6, 0), ...exit0]],
  ['bounds from a branch make a ctx read safe? (no: ctx offsets are constant)', [len, insn(0x25, 2, 0, 1, 4), insn(0x0f, 1, 2, 0, 0), ...exit0]],
  ['a bounded loop of 10', [insn(0xb7, 2, 0, 0, 0), insn(0x07, 2, 0, 0, 1), insn(0xa5, 2, 0, -2, 10), ...exit0]],
  ['a bounded loop of 1000 with a stack store', [insn(0xb7, 2, 0, 0, 0), insn(0x7b, 10, 2, -8, 0), insn(0x07, 2, 0, 0, 1), insn(0xa5, 2, 0, -3, 1000), ...exit0]],
  ['a loop whose exit test uses an unknown bound', [len, insn(0x57, 2, 0, 0, 15), insn(0xb7, 3, 0, 0, 0), insn(0x07, 3, 0, 0, 1), insn(0x2d, 2, 3, -2, 0), ...exit0]],
  ['jset: a bit known clear', [len, insn(0x57, 2, 0, 0, 0xfe), insn(0x45, 2, 0, 1, 1), insn(0x05, 0, 0, 1, 0), insn(0x62, 10, 0, -6, 0), ...exit0]],
  ['signed: negative after a signed test', [len, insn(0x65, 2, 0, 1, 0), insn(0x62, 10, 0, -6, 0), ...exit0]],
  ['an error after a join of two paths', [len, insn(0x15, 2, 0, 1, 3), insn(0xb7, 3, 0, 0, 1), insn(0x07, 3, 0, 0, 1), ...exit0]],
];

describe('differential: the verifier path walk agrees with the kernel on branches and loops', function () {
  this.timeout(60_000);
  let dir = '';
  let tool = '';
  before(function () {
    const why = (reason: string) => {
      console.log(`  path walk differential: SKIPPED: ${reason}`);
      this.skip();
    };
    if (process.platform !== 'linux') return why('not Linux');
    if (process.getuid?.() !== 0) return why('not root (the kernel verifier is asked through BPF_PROG_LOAD, privileged mode)');
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-walk-'));
    tool = join(dir, 'ctx_probe');
    const cc = spawnSync('cc', ['-O2', '-o', tool, join(REPO_ROOT, 'test', 'kernel', 'ctx_probe.c')], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) return why(`cannot build test/kernel/ctx_probe.c: ${cc.error?.message ?? cc.stderr}`);
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('each probe: the same decision, errno and message', () => {
    const r = spawnSync(tool, [], { input: PROBES.map(([, p]) => `${SOCK} ${Buffer.from(encode(p)).toString('hex')}`).join('\n') + '\n', encoding: 'utf8' });
    const kernel = r.stdout.trim().split('\n');
    const mismatches: string[] = [];
    let modelled = 0;
    PROBES.forEach(([what, p], i) => {
      const v = verifyPaths(p, SOCK, entryState());
      if ('unsupported' in v) return;
      modelled++;
      const ours = v.ok ? 'ok' : `err ${v.errno} ${v.message}`;
      if (ours !== kernel[i]) mismatches.push(`${what}: kernel "${kernel[i]}", bpfbox "${ours}"`);
    });
    assert.deepEqual(mismatches, []);
    assert.ok(modelled >= PROBES.length - 1, `${modelled} of ${PROBES.length} modelled`);
  });
});
