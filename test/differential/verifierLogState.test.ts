import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { ProgType } from '../../uapi/progType.js';
import { assemble } from '../../vm/asm/assembler.js';
import { encode } from '../../vm/decode.js';
import { verify } from '../../vm/verifier/verify.js';
import { REPO_ROOT } from '../support/paths.js';
import { PROBE_MAPS } from '../support/verdict.js';

const XDP = ProgType.BPF_PROG_TYPE_XDP;
const SK = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;
const PKT = 'r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 14\n';
const LOOKUP = '*(u64 *)(r10 -8) = 0\nr2 = r10\nr2 += -8\nr1 = map[fd:1] ll\ncall 1\n';
const RESERVE = 'r1 = map[fd:4] ll\nr2 = 8\nr3 = 0\ncall 131\n';

/**
 * Programs and, where bpfbox's bounds differ from the kernel's, the lines that differ (by
 * index in the log), with the reason. Every other line must be the kernel's, character for character.
 */
const PROGRAMS: { type: number; text: string; differ?: Record<number, string> }[] = [
  { type: XDP, text: `${PKT}if r4 > r3 goto pc+1\nr0 = *(u8 *)(r2 +14)\nr0 = 0\nexit` },
  { type: XDP, text: 'r2 = *(u32 *)(r1 +0)\nr0 = *(u16 *)(r2 +12)\nexit' },
  { type: SK, text: `${LOOKUP}if r0 == 0x0 goto pc+1\nr0 = *(u64 *)(r0 +4)\nr0 = 0\nexit` },
  { type: SK, text: `${RESERVE}if r0 == 0x0 goto pc+4\n*(u64 *)(r0 +8) = 0\nr1 = r0\nr2 = 0\ncall 132\nr0 = 0\nexit` },
  {
    type: SK,
    text: `${LOOKUP}if r0 == 0x0 goto pc+3\nr1 = *(u8 *)(r0 +0)\nr0 += r1\nr0 = *(u8 *)(r0 +0)\nr0 = 0\nexit`,
    differ: { 8: 'bpfbox marks R1 precise (P) at pointer arithmetic, the kernel does not' },
  },
  { type: SK, text: `${RESERVE}r0 = 0\nexit` },
  // accepted: the log holds the summary only
  { type: XDP, text: `${PKT}if r4 > r3 goto pc+3\nr0 = *(u8 *)(r2 +12)\nr0 &= 7\n*(u32 *)(r10 -4) = r0\nr0 = 2\nexit` },
  {
    type: XDP,
    text: `${PKT}if r4 > r3 goto pc+3\nr0 = *(u8 *)(r2 +12)\nif r0 > 5 goto pc+2\nr2 += r0\nr0 = *(u8 *)(r2 +0)\nr0 = 2\nexit`,
    differ: { 8: 'bpfbox marks R0 precise (P) at pointer arithmetic, the kernel does not' },
  },
  // the failing path is the jump's target: the log is rewound into the jump's line, the state follows on it
  {
    type: XDP,
    text: `${PKT}if r4 > r3 goto pc+2\nr0 = *(u8 *)(r2 +12)\nexit\nr0 = *(u8 *)(r2 +12)\nexit`,
  },
  // stack bytes: written ones `m`, the rest `?`; a zero stored whole is a spilled 0
  { type: SK, text: 'r1 = 7\n*(u32 *)(r10 -4) = r1\n*(u64 *)(r10 -16) = 0\nr0 = *(u64 *)(r10 -8)\nr0 = *(u64 *)(r10 -24)\nr0 = r5\nexit' },
];

/**
 * normal: what cannot match: a map's address in `r1 = 0xffff…` (bpfbox prints `map[fd:N] ll`)
 * and so the padding before that line's `;`; the figures after `processed N insns`.
 */
const normal = (lines: string[]) =>
  lines
    .map((l) => l.replace(/^(\d+: \(18\) r\d+ = )(0x[0-9a-f]+|map\[fd:\d+\] ll) *;/, '$1MAP ;'))
    .map((l) => l.replace(/^(processed \d+ insns) .*/, '$1'))
    .filter((l, n, all) => l || n < all.length - 1);

/**
 * Differential: the verifier log at log level 1 as the running kernel (6.x) prints it: the
 * entry state (`0: R1=ctx() R10=fp0`), after each instruction of the path that failed the
 * registers and stack slots it touched (`0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2=pkt(r=0)`,
 * the `;` aligned as vlog_alignment does), the references held, and for an accepted program
 * nothing but the summary. The kernel's log comes from test/differential/c/ctx_probe.c -l 1.
 */
describe('differential: register state in the verifier log (log level 1)', function () {
  this.timeout(60_000);
  let dir = '';
  before(function () {
    let why = '';
    if (process.platform !== 'linux') why = 'not Linux';
    else if (process.getuid?.() !== 0) why = 'not root (the kernel verifier is asked through BPF_PROG_LOAD)';
    else {
      dir = mkdtempSync(join(tmpdir(), 'bpfbox-vlog-'));
      const cc = spawnSync('cc', ['-O2', '-o', join(dir, 'ctx_probe'), join(REPO_ROOT, 'test/differential/c/ctx_probe.c')], {
        encoding: 'utf8',
      });
      if (cc.error || cc.status !== 0) why = `cannot build ctx_probe.c: ${cc.error?.message ?? cc.stderr}`;
    }
    if (why) {
      console.log(`  verifier log register state: SKIPPED: ${why}`);
      this.skip();
    }
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('every line of the log is the kernel’s, but for the named precision differences', () => {
    const insns = PROGRAMS.map((p) => assemble(p.text));
    const input = PROGRAMS.map((p, n) => `${p.type} ${Buffer.from(encode(insns[n])).toString('hex')}\n`).join('');
    const r = spawnSync(join(dir, 'ctx_probe'), ['-l', '1'], { input, encoding: 'utf8' });
    const answers = r.stdout.trim().split('\n');
    assert.equal(answers.length, PROGRAMS.length, r.stderr);
    PROGRAMS.forEach((p, n) => {
      const kernel = normal(answers[n].replace(/^(ok|err \d+) /, '').split('|'));
      const ours = normal([...verify(insns[n], { progType: p.type, ops: verifierOpsOf(p.type), maps: PROBE_MAPS, logLevel: 1 }).log]);
      assert.equal(ours.length, kernel.length, `program ${n}: lines\n${ours.join('\n')}\n--- kernel:\n${kernel.join('\n')}`);
      kernel.forEach((line, l) => {
        if (p.differ?.[l]) assert.notEqual(ours[l], line, `program ${n} line ${l} now agrees: drop it from differ`);
        else assert.equal(ours[l], line, `program ${n} line ${l}`);
      });
    });
  });
});
