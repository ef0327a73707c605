import type { Instruction } from '../instruction.js';
import { bswap16, bswap32, mul64, out, sdiv64, smod64, udiv64, umod64 } from '../int64.js';
import { AluOp, Class, Source } from '../opcodes.js';
import type { ExecState, Step } from './state.js';

/**
 * compileAlu64 builds the Step for a BPF_ALU64 instruction. `s` is the source slot: a
 * register, or the read-only slot holding the sign-extended immediate.
 */
function compileAlu64(i: Instruction, st: ExecState, s: number, next: number): Step {
  const { lo, hi } = st;
  const d = i.dst;
  const op = i.opcode & 0xf0;
  const signed = i.offset === 1;
  switch (op) {
    case AluOp.BPF_ADD:
      return () => {
        const l = (lo[d] >>> 0) + (lo[s] >>> 0);
        hi[d] = (hi[d] + hi[s] + (l > 0xffffffff ? 1 : 0)) | 0;
        lo[d] = l | 0;
        return next;
      };
    case AluOp.BPF_SUB:
      return () => {
        const l = (lo[d] >>> 0) - (lo[s] >>> 0);
        hi[d] = (hi[d] - hi[s] - (l < 0 ? 1 : 0)) | 0;
        lo[d] = l | 0;
        return next;
      };
    case AluOp.BPF_MUL:
      return () => (mul64(lo[d], hi[d], lo[s], hi[s]), (lo[d] = out[0]), (hi[d] = out[1]), next);
    case AluOp.BPF_DIV:
      return signed
        ? () => (sdiv64(lo[d], hi[d], lo[s], hi[s]), (lo[d] = out[0]), (hi[d] = out[1]), next)
        : () => (udiv64(lo[d], hi[d], lo[s], hi[s]), (lo[d] = out[0]), (hi[d] = out[1]), next);
    case AluOp.BPF_MOD:
      return signed
        ? () => (smod64(lo[d], hi[d], lo[s], hi[s]), (lo[d] = out[0]), (hi[d] = out[1]), next)
        : () => (umod64(lo[d], hi[d], lo[s], hi[s]), (lo[d] = out[0]), (hi[d] = out[1]), next);
    case AluOp.BPF_OR:
      return () => ((lo[d] |= lo[s]), (hi[d] |= hi[s]), next);
    case AluOp.BPF_AND:
      return () => ((lo[d] &= lo[s]), (hi[d] &= hi[s]), next);
    case AluOp.BPF_XOR:
      return () => ((lo[d] ^= lo[s]), (hi[d] ^= hi[s]), next);
    case AluOp.BPF_LSH:
      return () => {
        const n = lo[s] & 63;
        if (n >= 32) ((hi[d] = lo[d] << (n - 32)), (lo[d] = 0));
        else if (n > 0) ((hi[d] = (hi[d] << n) | (lo[d] >>> (32 - n))), (lo[d] <<= n));
        return next;
      };
    case AluOp.BPF_RSH:
      return () => {
        const n = lo[s] & 63;
        if (n >= 32) ((lo[d] = hi[d] >>> (n - 32)), (hi[d] = 0));
        else if (n > 0) ((lo[d] = (lo[d] >>> n) | (hi[d] << (32 - n))), (hi[d] = hi[d] >>> n));
        return next;
      };
    case AluOp.BPF_ARSH:
      return () => {
        const n = lo[s] & 63;
        if (n >= 32) ((lo[d] = hi[d] >> (n - 32)), (hi[d] >>= 31));
        else if (n > 0) ((lo[d] = (lo[d] >>> n) | (hi[d] << (32 - n))), (hi[d] >>= n));
        return next;
      };
    case AluOp.BPF_NEG:
      return () => {
        const l = lo[d];
        lo[d] = -l | 0;
        hi[d] = (~hi[d] + (l === 0 ? 1 : 0)) | 0;
        return next;
      };
    case AluOp.BPF_MOV:
      if (i.offset === 8) return () => ((lo[d] = (lo[s] << 24) >> 24), (hi[d] = lo[d] >> 31), next);
      if (i.offset === 16) return () => ((lo[d] = (lo[s] << 16) >> 16), (hi[d] = lo[d] >> 31), next);
      if (i.offset === 32) return () => ((lo[d] = lo[s]), (hi[d] = lo[d] >> 31), next);
      return () => ((lo[d] = lo[s]), (hi[d] = hi[s]), next);
    case AluOp.BPF_END: // bswap16/32/64: unconditional byte swap
      return endian(st, d, Number(i.imm), true, next);
  }
  throw new Error(`unreachable: alu64 op 0x${op.toString(16)}`);
}

/** compileAlu32 builds the Step for a BPF_ALU instruction; results zero-extend to 64 bits. */
function compileAlu32(i: Instruction, st: ExecState, s: number, next: number): Step {
  const { lo, hi } = st;
  const d = i.dst;
  const op = i.opcode & 0xf0;
  const signed = i.offset === 1;
  switch (op) {
    case AluOp.BPF_ADD:
      return () => ((lo[d] = (lo[d] + lo[s]) | 0), (hi[d] = 0), next);
    case AluOp.BPF_SUB:
      return () => ((lo[d] = (lo[d] - lo[s]) | 0), (hi[d] = 0), next);
    case AluOp.BPF_MUL:
      return () => ((lo[d] = Math.imul(lo[d], lo[s])), (hi[d] = 0), next);
    case AluOp.BPF_DIV:
      return signed
        ? () => {
            const b = lo[s];
            lo[d] = b === 0 ? 0 : b === -1 ? -lo[d] | 0 : (lo[d] / b) | 0;
            hi[d] = 0;
            return next;
          }
        : () => {
            const b = lo[s] >>> 0;
            lo[d] = b === 0 ? 0 : ((lo[d] >>> 0) / b) | 0;
            hi[d] = 0;
            return next;
          };
    case AluOp.BPF_MOD:
      return signed
        ? () => {
            const b = lo[s];
            if (b !== 0) lo[d] = b === -1 ? 0 : lo[d] % b | 0;
            hi[d] = 0;
            return next;
          }
        : () => {
            const b = lo[s] >>> 0;
            if (b !== 0) lo[d] = (lo[d] >>> 0) % b | 0;
            hi[d] = 0;
            return next;
          };
    case AluOp.BPF_OR:
      return () => ((lo[d] |= lo[s]), (hi[d] = 0), next);
    case AluOp.BPF_AND:
      return () => ((lo[d] &= lo[s]), (hi[d] = 0), next);
    case AluOp.BPF_XOR:
      return () => ((lo[d] ^= lo[s]), (hi[d] = 0), next);
    case AluOp.BPF_LSH:
      return () => ((lo[d] <<= lo[s]), (hi[d] = 0), next); // JS masks the count by 31
    case AluOp.BPF_RSH:
      return () => ((lo[d] = lo[d] >>> lo[s]), (hi[d] = 0), next);
    case AluOp.BPF_ARSH:
      return () => ((lo[d] >>= lo[s]), (hi[d] = 0), next);
    case AluOp.BPF_NEG:
      return () => ((lo[d] = -lo[d] | 0), (hi[d] = 0), next);
    case AluOp.BPF_MOV:
      if (i.offset === 8) return () => ((lo[d] = (lo[s] << 24) >> 24), (hi[d] = 0), next);
      if (i.offset === 16) return () => ((lo[d] = (lo[s] << 16) >> 16), (hi[d] = 0), next);
      return () => ((lo[d] = lo[s]), (hi[d] = 0), next);
    case AluOp.BPF_END: // le (source K) truncates, be (source X) swaps: on a little-endian machine
      return endian(st, d, Number(i.imm), (i.opcode & Source.BPF_X) !== 0, next);
  }
  throw new Error(`unreachable: alu32 op 0x${op.toString(16)}`);
}

function endian(st: ExecState, d: number, bits: number, swap: boolean, next: number): Step {
  const { lo, hi } = st;
  if (!swap) {
    if (bits === 16) return () => ((lo[d] &= 0xffff), (hi[d] = 0), next);
    if (bits === 32) return () => ((hi[d] = 0), next);
    return () => next;
  }
  if (bits === 16) return () => ((lo[d] = bswap16(lo[d])), (hi[d] = 0), next);
  if (bits === 32) return () => ((lo[d] = bswap32(lo[d])), (hi[d] = 0), next);
  return () => {
    const l = lo[d];
    lo[d] = bswap32(hi[d]);
    hi[d] = bswap32(l);
    return next;
  };
}

/** compileAlu builds the Step for an ALU or ALU64 instruction. */
export function compileAlu(i: Instruction, st: ExecState, src: number, next: number): Step {
  return (i.opcode & 0x07) === Class.BPF_ALU64 ? compileAlu64(i, st, src, next) : compileAlu32(i, st, src, next);
}
