import { RuntimeError } from '../errors.js';
import type { Instruction } from '../instruction.js';
import { AtomicOp, Size } from '../opcodes.js';
import type { ExecState, Step } from './state.js';

type Op32 = (a: Int32Array, idx: number, v: number) => number;
type Op64 = (a: BigInt64Array, idx: number, v: bigint) => bigint;

const OPS32: Record<number, Op32> = {
  [AtomicOp.BPF_ADD]: Atomics.add,
  [AtomicOp.BPF_OR]: Atomics.or,
  [AtomicOp.BPF_AND]: Atomics.and,
  [AtomicOp.BPF_XOR]: Atomics.xor,
  [AtomicOp.BPF_XCHG & ~AtomicOp.BPF_FETCH]: Atomics.exchange,
};
const OPS64 = OPS32 as unknown as Record<number, Op64>;

/**
 * compileAtomic builds the Step for a BPF_STX | BPF_ATOMIC instruction as a real atomic
 * operation on the shared memory. The address must be aligned to the operand size.
 * With BPF_FETCH the old value lands in src (zero-extended for 32-bit); cmpxchg compares
 * with r0 and leaves the old value in r0.
 */
export function compileAtomic(i: Instruction, st: ExecState, slot: number, next: number): Step {
  const { lo, hi } = st;
  const d = i.dst;
  const s = i.src;
  const off = i.offset;
  const code = Number(i.imm);
  const wide = (i.opcode & 0x18) === Size.BPF_DW;
  const size = wide ? 8 : 4;
  const fetch = (code & AtomicOp.BPF_FETCH) !== 0;
  const at = (): number => {
    const a = (lo[d] >>> 0) + off;
    if (hi[d] !== 0 || a < st.ws || a + size > st.we) st.writeSlow(slot, d, off, size);
    if (a % size !== 0) throw new RuntimeError(slot, `misaligned atomic access at 0x${a.toString(16)}`);
    return a;
  };
  if (code === AtomicOp.BPF_CMPXCHG) {
    return wide
      ? () => {
          const old = Atomics.compareExchange(st.i64, at() / 8, big(lo[0], hi[0]), big(lo[s], hi[s]));
          lo[0] = Number(BigInt.asIntN(32, old));
          hi[0] = Number(BigInt.asIntN(32, old >> 32n));
          return next;
        }
      : () => ((lo[0] = Atomics.compareExchange(st.i32, at() / 4, lo[0], lo[s])), (hi[0] = 0), next);
  }
  const base = code & ~AtomicOp.BPF_FETCH;
  if (wide) {
    const op = OPS64[base];
    return () => {
      const old = op(st.i64, at() / 8, big(lo[s], hi[s]));
      if (fetch) ((lo[s] = Number(BigInt.asIntN(32, old))), (hi[s] = Number(BigInt.asIntN(32, old >> 32n))));
      return next;
    };
  }
  const op = OPS32[base];
  return () => {
    const old = op(st.i32, at() / 4, lo[s]);
    if (fetch) ((lo[s] = old), (hi[s] = 0));
    return next;
  };
}

function big(l: number, h: number): bigint {
  return (BigInt(h) << 32n) | BigInt(l >>> 0);
}
