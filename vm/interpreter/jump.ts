import type { Instruction } from '../instruction.js';
import { Class, JmpOp } from '../opcodes.js';
import type { ExecState, Step } from './state.js';

/**
 * compileJump builds the Step for a conditional jump (JMP or JMP32) or `ja`/`gotol`.
 * `s` is the source slot (a register or an immediate's slot); `taken`/`next` are slots.
 */
export function compileJump(i: Instruction, st: ExecState, s: number, taken: number, next: number): Step {
  const { lo, hi } = st;
  const d = i.dst;
  const op = i.opcode & 0xf0;
  if (op === JmpOp.BPF_JA) return () => taken;
  if (op === JmpOp.BPF_JCOND) {
    // may_goto: the running function's counter spent, the target; else one less, the fall-through
    const loops = st.loops;
    return () => (loops[st.depth] === 0 ? taken : (loops[st.depth]--, next));
  }
  if ((i.opcode & 0x07) === Class.BPF_JMP32) {
    switch (op) {
      case JmpOp.BPF_JEQ:
        return () => (lo[d] === lo[s] ? taken : next);
      case JmpOp.BPF_JNE:
        return () => (lo[d] !== lo[s] ? taken : next);
      case JmpOp.BPF_JSET:
        return () => ((lo[d] & lo[s]) !== 0 ? taken : next);
      case JmpOp.BPF_JGT:
        return () => (lo[d] >>> 0 > lo[s] >>> 0 ? taken : next);
      case JmpOp.BPF_JGE:
        return () => (lo[d] >>> 0 >= lo[s] >>> 0 ? taken : next);
      case JmpOp.BPF_JLT:
        return () => (lo[d] >>> 0 < lo[s] >>> 0 ? taken : next);
      case JmpOp.BPF_JLE:
        return () => (lo[d] >>> 0 <= lo[s] >>> 0 ? taken : next);
      case JmpOp.BPF_JSGT:
        return () => (lo[d] > lo[s] ? taken : next);
      case JmpOp.BPF_JSGE:
        return () => (lo[d] >= lo[s] ? taken : next);
      case JmpOp.BPF_JSLT:
        return () => (lo[d] < lo[s] ? taken : next);
      case JmpOp.BPF_JSLE:
        return () => (lo[d] <= lo[s] ? taken : next);
    }
  } else {
    // 64-bit: compare the high halves (signed or unsigned), then the low halves unsigned.
    switch (op) {
      case JmpOp.BPF_JEQ:
        return () => (lo[d] === lo[s] && hi[d] === hi[s] ? taken : next);
      case JmpOp.BPF_JNE:
        return () => (lo[d] !== lo[s] || hi[d] !== hi[s] ? taken : next);
      case JmpOp.BPF_JSET:
        return () => ((lo[d] & lo[s]) !== 0 || (hi[d] & hi[s]) !== 0 ? taken : next);
      case JmpOp.BPF_JGT:
        return () => ((hi[d] === hi[s] ? lo[d] >>> 0 > lo[s] >>> 0 : hi[d] >>> 0 > hi[s] >>> 0) ? taken : next);
      case JmpOp.BPF_JGE:
        return () => ((hi[d] === hi[s] ? lo[d] >>> 0 >= lo[s] >>> 0 : hi[d] >>> 0 > hi[s] >>> 0) ? taken : next);
      case JmpOp.BPF_JLT:
        return () => ((hi[d] === hi[s] ? lo[d] >>> 0 < lo[s] >>> 0 : hi[d] >>> 0 < hi[s] >>> 0) ? taken : next);
      case JmpOp.BPF_JLE:
        return () => ((hi[d] === hi[s] ? lo[d] >>> 0 <= lo[s] >>> 0 : hi[d] >>> 0 < hi[s] >>> 0) ? taken : next);
      case JmpOp.BPF_JSGT:
        return () => ((hi[d] === hi[s] ? lo[d] >>> 0 > lo[s] >>> 0 : hi[d] > hi[s]) ? taken : next);
      case JmpOp.BPF_JSGE:
        return () => ((hi[d] === hi[s] ? lo[d] >>> 0 >= lo[s] >>> 0 : hi[d] > hi[s]) ? taken : next);
      case JmpOp.BPF_JSLT:
        return () => ((hi[d] === hi[s] ? lo[d] >>> 0 < lo[s] >>> 0 : hi[d] < hi[s]) ? taken : next);
      case JmpOp.BPF_JSLE:
        return () => ((hi[d] === hi[s] ? lo[d] >>> 0 <= lo[s] >>> 0 : hi[d] < hi[s]) ? taken : next);
    }
  }
  throw new Error(`unreachable: jump op 0x${op.toString(16)}`);
}
