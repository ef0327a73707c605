import { RuntimeError } from '../errors.js';
import type { Instruction } from '../instruction.js';
import { Mode, sizeBytes } from '../opcodes.js';
import { type ExecState, type Step, Stop } from './state.js';

/**
 * compileLoad builds the Step for `ldx` (BPF_MEM, zero-extending) and `ldxs` (BPF_MEMSX,
 * sign-extending). The fast path checks the last region read; a miss takes `readSlow`.
 */
export function compileLoad(i: Instruction, st: ExecState, slot: number, next: number): Step {
  const { lo, hi } = st;
  const d = i.dst;
  const s = i.src;
  const off = i.offset;
  const sx = (i.opcode & 0xe0) === Mode.BPF_MEMSX;
  const size = sizeBytes[i.opcode & 0x18];
  const at = (): number => {
    const a = (lo[s] >>> 0) + off;
    if (hi[s] !== 0 || a < st.rs || a + size > st.re) st.readSlow(slot, s, off, size);
    return a;
  };
  switch (size) {
    case 1:
      return sx
        ? () => ((lo[d] = st.dv.getInt8(at())), (hi[d] = lo[d] >> 31), next)
        : () => ((lo[d] = st.dv.getUint8(at())), (hi[d] = 0), next);
    case 2:
      return sx
        ? () => ((lo[d] = st.dv.getInt16(at(), true)), (hi[d] = lo[d] >> 31), next)
        : () => ((lo[d] = st.dv.getUint16(at(), true)), (hi[d] = 0), next);
    case 4:
      return sx
        ? () => ((lo[d] = st.dv.getInt32(at(), true)), (hi[d] = lo[d] >> 31), next)
        : () => ((lo[d] = st.dv.getInt32(at(), true)), (hi[d] = 0), next);
    default:
      return () => {
        const a = at();
        lo[d] = st.dv.getInt32(a, true);
        hi[d] = st.dv.getInt32(a + 4, true);
        return next;
      };
  }
}

/**
 * compileStore builds the Step for `st` (immediate, `s` is its slot) and `stx` (register).
 */
export function compileStore(i: Instruction, st: ExecState, s: number, slot: number, next: number): Step {
  const { lo, hi } = st;
  const d = i.dst;
  const off = i.offset;
  const size = sizeBytes[i.opcode & 0x18];
  const at = (): number => {
    const a = (lo[d] >>> 0) + off;
    if (hi[d] !== 0 || a < st.ws || a + size > st.we) st.writeSlow(slot, d, off, size);
    return a;
  };
  switch (size) {
    case 1:
      return () => (st.dv.setUint8(at(), lo[s] & 0xff), next);
    case 2:
      return () => (st.dv.setUint16(at(), lo[s] & 0xffff, true), next);
    case 4:
      return () => (st.dv.setInt32(at(), lo[s], true), next);
    default:
      return () => {
        const a = at();
        st.dv.setInt32(a, lo[s], true);
        st.dv.setInt32(a + 4, hi[s], true);
        return next;
      };
  }
}

/** compileLddw builds the Step for `lddw`; `value` is the resolved 64-bit constant. */
export function compileLddw(i: Instruction, st: ExecState, value: bigint, next: number): Step {
  const { lo, hi } = st;
  const d = i.dst;
  const l = Number(BigInt.asIntN(32, value));
  const h = Number(BigInt.asIntN(32, value >> 32n));
  return () => ((lo[d] = l), (hi[d] = h), next);
}

/**
 * compilePacketLoad builds the Step for the legacy LD_ABS/LD_IND loads: r0 = the big-endian
 * value at the packet offset of the context in r6; out of bounds, the program exits with 0.
 */
export function compilePacketLoad(i: Instruction, st: ExecState, slot: number, next: number): Step {
  const { lo, hi } = st;
  const load = st.machine.packetLoad;
  if (!load) throw new RuntimeError(slot, 'LD_ABS/LD_IND need a program type with a packet context');
  const size = sizeBytes[i.opcode & 0x18] as 1 | 2 | 4;
  const imm = Number(i.imm);
  const ind = (i.opcode & 0xe0) === Mode.BPF_IND;
  const s = i.src;
  return () => {
    const v = load(lo[6] >>> 0, ind ? (lo[s] + imm) | 0 : imm, size);
    lo[0] = v === undefined ? 0 : v | 0;
    hi[0] = 0;
    return v === undefined ? Stop.ABORT_ZERO : next;
  };
}
