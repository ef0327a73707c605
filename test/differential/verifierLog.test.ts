import assert from 'node:assert/strict';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { ProgType } from '../../uapi/progType.js';
import { assemble } from '../../vm/asm/assembler.js';
import { encode } from '../../vm/decode.js';
import { verify } from '../../vm/verifier/verify.js';
import { kernelProbeForSuite } from '../support/kernelProbe.js';
import { PROBE_MAPS } from '../support/verdict.js';

/**
 * The log's end in the kernel's words: for out-of-bounds accesses the kernel prints what
 * __check_mem_access saw (`invalid access to packet, off=14 size=1, R2(id=0,off=14,r=14)`) and
 * then the reason; bpfbox's log at level 1 ends with the same two lines.
 */
describe('differential: the last lines of the verifier log agree with the kernel', function () {
  this.timeout(60_000);
  const probe = kernelProbeForSuite('verifier log differential');
  const XDP = ProgType.BPF_PROG_TYPE_XDP;
  const SK = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;
  const programs: [number, string][] = [
    [XDP, 'r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 14\nif r4 > r3 goto pc+1\nr0 = *(u8 *)(r2 +14)\nr0 = 0\nexit'],
    [XDP, 'r2 = *(u32 *)(r1 +0)\nr0 = *(u16 *)(r2 +12)\nexit'],
    [SK, '*(u64 *)(r10 -8) = 0\nr2 = r10\nr2 += -8\nr1 = map[fd:1] ll\ncall 1\nif r0 == 0x0 goto pc+1\nr0 = *(u64 *)(r0 +4)\nr0 = 0\nexit'],
    [
      SK,
      'r1 = map[fd:4] ll\nr2 = 8\nr3 = 0\ncall 131\nif r0 == 0x0 goto pc+4\n*(u64 *)(r0 +8) = 0\nr1 = r0\nr2 = 0\ncall 132\nr0 = 0\nexit',
    ],
    [
      SK,
      '*(u64 *)(r10 -8) = 0\nr2 = r10\nr2 += -8\nr1 = map[fd:1] ll\ncall 1\nif r0 == 0x0 goto pc+3\nr1 = *(u8 *)(r0 +0)\nr0 += r1\nr0 = *(u8 *)(r0 +0)\nr0 = 0\nexit',
    ],
    // references: the kernel names the one left (ids as it numbers them)
    [SK, 'r1 = map[fd:4] ll\nr2 = 8\nr3 = 0\ncall 131\nr0 = 0\nexit'],
  ];

  it('the two lines before the summary, for packets, map values, ring buffer records and references', () => {
    const insns = programs.map(([, t]) => assemble(t));
    const kernel = probe().ask(
      programs.map(([type], n) => [type, encode(insns[n])] as const),
      'full',
    );
    const lastTwo = (lines: string[]) =>
      lines
        .filter((l) => l && !l.startsWith('processed '))
        .slice(-2)
        .join(' | ');
    programs.forEach(([type], n) => {
      const k = lastTwo(kernel[n].replace(/^err \d+ /, '').split('|'));
      const ours = lastTwo([...verify(insns[n], { progType: type, ops: verifierOpsOf(type), maps: PROBE_MAPS, logLevel: 1 }).log]);
      assert.equal(ours, k, `program ${n}`);
    });
  });
});
