import assert from 'node:assert/strict';
import { testRun } from '../../hooks/testRun.js';
import { Kernel } from '../../kernel/kernel.js';
import type { ProgObject } from '../../kernel/objects.js';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import type { Engine } from '../../vm/engine.js';
import { insn } from '../../vm/instruction.js';
import { interpreter } from '../../vm/interpreter/interpreter.js';
import { jit } from '../../vm/jit/jit.js';

/**
 * The JIT runs bpf_loop over the program's own callback in WebAssembly (vm/jit/inlineLoop.ts).
 * An XDP program takes from the packet bpf_loop's count (u32 at 0), the index at which the
 * callback returns 1 (u32 at 4) and the flags (u32 at 8); the callback adds each index to a
 * 32-bit sum on the caller's stack. The program writes bpf_loop's result (s64 at 0) and the sum
 * (u64 at 8) back into the packet. Both engines must write what a hand count says.
 */
const CB = 26;
const PROGRAM = [
  insn(0x61, 2, 1, 0, 0), // r2 = ctx->data
  insn(0x61, 3, 1, 4, 0), // r3 = ctx->data_end
  insn(0xbf, 4, 2, 0, 0), // r4 = r2
  insn(0x07, 4, 0, 0, 16), // r4 += 16
  insn(0x2d, 4, 3, 19, 0), // if r4 > r3 goto drop (slot 24)
  insn(0x61, 6, 2, 0, 0), // r6 = count
  insn(0x61, 7, 2, 4, 0), // r7 = stop index
  insn(0x61, 8, 2, 8, 0), // r8 = flags
  insn(0x7b, 10, 7, -16, 0), // *(u64 *)(r10 - 16) = r7: the callback's ctx { stop, sum }
  insn(0x7a, 10, 0, -8, 0), // *(u64 *)(r10 - 8) = 0
  insn(0xbf, 9, 2, 0, 0), // r9 = data (kept across the call)
  insn(0xbf, 1, 6, 0, 0), // r1 = count
  insn(0x18, 2, 4, 0, CB - 13), // r2 = the callback (lddw BPF_PSEUDO_FUNC), slots 12-13
  insn(0xbf, 3, 10, 0, 0), // r3 = r10
  insn(0x07, 3, 0, 0, -16), // r3 += -16
  insn(0xbf, 4, 8, 0, 0), // r4 = flags
  insn(0x85, 0, 0, 0, 181), // call bpf_loop
  insn(0x79, 1, 10, -8, 0), // r1 = sum
  insn(0xbf, 2, 9, 0, 0), // r2 = data
  insn(0x7b, 2, 0, 0, 0), // *(u64 *)(data + 0) = r0
  insn(0x7b, 2, 1, 8, 0), // *(u64 *)(data + 8) = r1
  insn(0xb7, 0, 0, 0, 2), // r0 = XDP_PASS
  insn(0x95, 0, 0, 0, 0),
  insn(0xb7, 0, 0, 0, 1), // drop: r0 = XDP_DROP
  insn(0x95, 0, 0, 0, 0),
  // cb(i, ctx) at slot 26
  insn(0x79, 3, 2, 0, 0), // r3 = ctx->stop
  insn(0x79, 4, 2, 8, 0), // r4 = ctx->sum
  insn(0x0c, 4, 1, 0, 0), // w4 += w1: the sum mod 2^32 (bounded: the verifier's walk of the callback converges)
  insn(0x7b, 2, 4, 8, 0), // ctx->sum = r4
  insn(0xb7, 0, 0, 0, 0), // r0 = 0
  insn(0x5d, 1, 3, 1, 0), // if i != stop goto +1
  insn(0xb7, 0, 0, 0, 1), // r0 = 1
  insn(0x95, 0, 0, 0, 0),
];

/** A hand count of what bpf_loop returns and the sum the callback leaves. */
function expected(count: number, stop: number, flags: number): [bigint, bigint] {
  if (flags !== 0) return [-22n, 0n];
  if (count > 1 << 23) return [-7n, 0n];
  let sum = 0n;
  for (let i = 0; i < count; i++) {
    sum = (sum + BigInt(i)) & 0xffffffffn;
    if (i === stop) return [BigInt(i + 1), sum];
  }
  return [BigInt(count), sum];
}

function runAll(engine: Engine, cases: readonly (readonly [number, number, number])[]): [bigint, bigint][] {
  const k = new Kernel({ ncpus: 1, runtime: { engine } });
  const log = new Uint8Array(1 << 24);
  const fd = k.bpf('BPF_PROG_LOAD', {
    log_level: 1,
    log_buf: log,
    log_size: log.length,
    prog_type: ProgType.BPF_PROG_TYPE_XDP,
    insns: encode(PROGRAM),
    license: 'GPL',
    func_info: [
      { insn: 0, name: 'xdp_loop' },
      { insn: CB, name: 'cb' },
    ],
  });
  assert.ok(fd > 0, `load: ${fd}: ${new TextDecoder().decode(log).replace(/\0.*$/s, '')}`);
  const p = k.process.fds.get(fd)!.obj as ProgObject;
  return cases.map(([count, stop, flags]) => {
    const data = new Uint8Array(16);
    const v = new DataView(data.buffer);
    v.setUint32(0, count, true);
    v.setUint32(4, stop, true);
    v.setUint32(8, flags, true);
    const r = testRun(k.runtime(0), p, { data });
    assert.equal(r.retval, 2, `count ${count} stop ${stop} flags ${flags}: XDP_PASS`);
    const out = new DataView(r.data.buffer, r.data.byteOffset);
    return [out.getBigInt64(0, true), out.getBigUint64(8, true)];
  });
}

describe('JIT: bpf_loop callbacks run in WebAssembly', function () {
  this.timeout(120_000);
  const cases: [number, number, number][] = [
    [0, 5, 0],
    [1, 5, 0],
    [10, 0xffffffff, 0],
    [10, 0, 0],
    [10, 9, 0],
    [1000, 317, 0],
    [100_000, 0xffffffff, 0],
    [1 << 23, 0xffffffff, 0],
    [(1 << 23) + 1, 0xffffffff, 0],
    [0xffffffff, 3, 0],
    [10, 0xffffffff, 1],
  ];
  it('counts, early stops, the limit and bad flags: what a hand count says, under the interpreter and the JIT', () => {
    const want = cases.map(([c, s, f]) => expected(c, s, f));
    assert.deepEqual(runAll(jit, cases), want, 'jit');
    // the interpreter (the second implementation) on the cases short enough for it
    const short = cases.filter(([c]) => c <= 100_000 || c > 1 << 23);
    assert.deepEqual(
      runAll(interpreter, short),
      short.map(([c, s, f]) => expected(c, s, f)),
      'interpreter',
    );
  });
});
