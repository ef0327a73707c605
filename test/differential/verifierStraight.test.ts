import assert from 'node:assert/strict';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { type Instruction, insn } from '../../vm/instruction.js';
import { verdict } from '../support/verdict.js';
import { kernelProbeForSuite } from '../support/kernelProbe.js';

/**
 * Differential: straight-line programs (stack bounds, alignment, spills and fills, pointer
 * arithmetic, uninitialised registers, R0 at exit) through the running kernel's verifier
 * (test/differential/c/ctx_probe.c, as root: privileged mode) and bpfbox's straight-line walk: the
 * same decision, errno and message for every program the walk models.
 */
const EXIT0 = [insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)];
const ST: Readonly<Record<number, number>> = { 1: 0x72, 2: 0x6a, 4: 0x62, 8: 0x7a };
const STX: Readonly<Record<number, number>> = { 1: 0x73, 2: 0x6b, 4: 0x63, 8: 0x7b };
const LDX: Readonly<Record<number, number>> = { 1: 0x71, 2: 0x69, 4: 0x61, 8: 0x79 };
const ALU_K = [0x07, 0x17, 0x27, 0x37, 0x47, 0x57, 0x67, 0x77, 0x87, 0x97, 0xa7, 0xc7]; // add … arsh, 64-bit with an immediate

function probes(): [string, number, Instruction[]][] {
  const out: [string, number, Instruction[]][] = [];
  const sock = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;
  for (const size of [1, 2, 4, 8]) {
    for (const off of [-520, -513, -512, -511, -16, -12, -9, -8, -7, -6, -4, -3, -2, -1, 0, 4, 8]) {
      out.push([`st ${size} at fp${off}`, sock, [insn(ST[size], 10, 0, off, 7), ...EXIT0]]);
      out.push([`stx scalar ${size} at fp${off}`, sock, [insn(0xb7, 2, 0, 0, 5), insn(STX[size], 10, 2, off, 0), ...EXIT0]]);
      out.push([`ldx ${size} at fp${off} (never written)`, sock, [insn(LDX[size], 0, 10, off, 0), ...EXIT0]]);
      out.push([
        `ldx ${size} of a spilled ctx at fp${off & ~7}`,
        sock,
        [insn(0x7b, 10, 1, -16, 0), insn(LDX[size], 2, 10, -16 + (off & 7), 0), ...EXIT0],
      ]);
      out.push([
        `stx ${size} through r6 = fp-16, at r6${off}`,
        sock,
        [insn(0xbf, 6, 10, 0, 0), insn(0x07, 6, 0, 0, -16), insn(0xb7, 2, 0, 0, 1), insn(STX[size], 6, 2, off, 0), ...EXIT0],
      ]);
    }
  }
  for (const op of ALU_K) {
    const imm = op === 0x87 ? 0 : 4; // neg takes no immediate
    out.push([`alu 0x${op.toString(16)} with a reserved immediate`, sock, [insn(0xb7, 3, 0, 0, 9), insn(op, 3, 0, 0, imm || 4), ...EXIT0]]);
    out.push([`alu 0x${op.toString(16)} on ctx`, sock, [insn(op, 1, 0, 0, imm), insn(0xbf, 0, 1, 0, 0), insn(0x95, 0, 0, 0, 0)]]);
    out.push([`alu 0x${op.toString(16)} on fp copy`, sock, [insn(0xbf, 6, 10, 0, 0), insn(op, 6, 0, 0, imm), ...EXIT0]]);
    out.push([`alu32 0x${(op - 3).toString(16)} on ctx`, sock, [insn(op - 3, 1, 0, 0, imm), ...EXIT0]]);
    out.push([
      `alu 0x${op.toString(16)} on scalars`,
      sock,
      [insn(0xb7, 3, 0, 0, 9), insn(op, 3, 0, 0, op === 0x87 ? 0 : 3), insn(0xbf, 0, 3, 0, 0), insn(0x95, 0, 0, 0, 0)],
    ]);
    out.push([
      `alu 0x${op.toString(16)} of ctx into a scalar (X form)`,
      sock,
      [insn(0xb7, 3, 0, 0, 9), insn(op + 8, 3, 1, 0, 0), ...EXIT0],
    ]);
  }
  for (const [code, width] of [
    [0xd4, 16],
    [0xd4, 32],
    [0xd4, 64],
    [0xdc, 16],
    [0xdc, 32],
    [0xdc, 64],
    [0xd7, 16],
    [0xd7, 64],
    [0xd4, 8],
  ] as const) {
    out.push([
      `byte order 0x${code.toString(16)}/${width} of a constant, returned`,
      sock,
      [insn(0x18, 3, 0, 0, 0x1122334455667788n), insn(code, 3, 0, 0, width), insn(0xbf, 0, 3, 0, 0), insn(0x95, 0, 0, 0, 0)],
    ]);
    out.push([
      `byte order 0x${code.toString(16)}/${width} of a pointer`,
      sock,
      [insn(0xbf, 3, 10, 0, 0), insn(code, 3, 0, 0, width), ...EXIT0],
    ]);
  }
  for (const op of [0x0f, 0x1f, 0x2f, 0x4f, 0x5f, 0xaf])
    out.push([`fp 0x${op.toString(16)} ctx`, sock, [insn(0xbf, 3, 10, 0, 0), insn(op, 3, 1, 0, 0), ...EXIT0]]);
  out.push(['read r3 before writing it', sock, [insn(0x07, 3, 0, 0, 1), ...EXIT0]]);
  out.push(['exit with r0 unset', sock, [insn(0x95, 0, 0, 0, 0)]]);
  out.push(['exit with r0 = ctx (privileged)', sock, [insn(0xbf, 0, 1, 0, 0), insn(0x95, 0, 0, 0, 0)]]);
  // check_return_code holds r0 to no range for the types bpfbox models (their ops have no retvalRange)
  for (const type of [sock, ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_SCHED_ACT, ProgType.BPF_PROG_TYPE_XDP]) {
    for (const v of [-1, 7, 1000, 0x7fffffff])
      out.push([`type ${type} exits with r0 = ${v}`, type, [insn(0xb7, 0, 0, 0, v), insn(0x95, 0, 0, 0, 0)]]);
    out.push([`type ${type} exits with r0 = ctx (privileged)`, type, [insn(0xbf, 0, 1, 0, 0), insn(0x95, 0, 0, 0, 0)]]);
  }
  out.push(['scalar minus fp', sock, [insn(0xb7, 2, 0, 0, 1), insn(0x1f, 2, 10, 0, 0), ...EXIT0]]);
  out.push(['deref a scalar', sock, [insn(0xb7, 2, 0, 0, 64), insn(0x61, 0, 2, 0, 0), insn(0x95, 0, 0, 0, 0)]]);
  out.push([
    'fp copy, moved back and forth, then 8-byte store',
    sock,
    [insn(0xbf, 6, 10, 0, 0), insn(0x07, 6, 0, 0, -100), insn(0x07, 6, 0, 0, 92), insn(0x7a, 6, 0, 0, 1), ...EXIT0],
  ]);
  out.push(['ctx + 4 then load', ProgType.BPF_PROG_TYPE_XDP, [insn(0x07, 1, 0, 0, 4), insn(0x61, 0, 1, 12, 0), insn(0x95, 0, 0, 0, 0)]]);
  out.push([
    'spill ctx, fill it, load a field',
    ProgType.BPF_PROG_TYPE_XDP,
    [insn(0x7b, 10, 1, -8, 0), insn(0x79, 2, 10, -8, 0), insn(0x61, 0, 2, 12, 0), insn(0x95, 0, 0, 0, 0)],
  ]);
  return out;
}

describe('differential: the straight-line verifier walk agrees with the kernel', function () {
  this.timeout(60_000);
  const probe = kernelProbeForSuite('straight-line verifier differential');

  it('stack, spills, pointer arithmetic, registers, exit', () => {
    const ps = probes();
    const kernel = probe().ask(ps.map(([, t, p]) => [t, encode(p)] as const));
    const mismatches: string[] = [];
    let modelled = 0;
    ps.forEach(([what, type, p], i) => {
      const ours = verdict(p, type);
      if (ours === undefined) return;
      modelled++;
      if (ours !== kernel[i]) mismatches.push(`${what}: kernel "${kernel[i]}", bpfbox "${ours}"`);
    });
    assert.deepEqual(mismatches, []);
    assert.ok(modelled > ps.length * 0.9, `${modelled} of ${ps.length} modelled`);
  });
});
