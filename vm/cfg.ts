import { InstructionError } from './errors.js';
import { type Instruction, width } from './instruction.js';
import { Class, JmpOp, Pseudo, Source, opClass } from './opcodes.js';

/**
 * SlotMap indexes a program by slot, the unit jump offsets count in: `at[slot]` is the
 * instruction that starts there, or undefined for the second half of an `lddw`.
 */
export interface SlotMap {
  readonly at: readonly (Instruction | undefined)[];
  readonly length: number;
}

/** slotMap lays the instructions out by slot. */
export function slotMap(insns: readonly Instruction[]): SlotMap {
  const at: (Instruction | undefined)[] = [];
  for (const i of insns) {
    at.push(i);
    if (width(i) === 2) at.push(undefined);
  }
  return { at, length: at.length };
}

/** Flow says where control goes after the instruction at a slot. */
export interface Flow {
  /** Next slots within the same function (fall-through and jump targets). */
  readonly next: readonly number[];
  /** Slot of a bpf-to-bpf callee, if this is a local call. */
  readonly call?: number;
  /** True for `exit`. */
  readonly exit?: boolean;
}

/** isUnconditional tells whether a jump opcode always jumps (ja or gotol). */
export function isUnconditional(opcode: number): boolean {
  const cls = opClass(opcode);
  return (cls === Class.BPF_JMP || cls === Class.BPF_JMP32) && (opcode & 0xf0) === JmpOp.BPF_JA;
}

/**
 * flowOf computes where control goes from `slot`, throwing an InstructionError for a target
 * out of range or into the middle of an `lddw`.
 */
export function flowOf(map: SlotMap, slot: number): Flow {
  const i = map.at[slot];
  if (!i) throw new InstructionError(slot, 'flow into the second half of lddw');
  const after = slot + width(i);
  const cls = opClass(i.opcode);
  if (cls !== Class.BPF_JMP && cls !== Class.BPF_JMP32) return { next: [after] };
  const op = i.opcode & 0xf0;
  if (op === JmpOp.BPF_EXIT) return { next: [], exit: true };
  if (op === JmpOp.BPF_CALL) {
    if ((i.opcode & Source.BPF_X) === 0 && i.src === Pseudo.BPF_PSEUDO_CALL) {
      return { next: [after], call: target(map, slot, slot + 1 + Number(i.imm), 'call') };
    }
    return { next: [after] };
  }
  const rel = cls === Class.BPF_JMP32 && op === JmpOp.BPF_JA ? Number(i.imm) : i.offset;
  const to = target(map, slot, slot + 1 + rel, 'jump');
  return isUnconditional(i.opcode) ? { next: [to] } : { next: [after, to] };
}

function target(map: SlotMap, slot: number, to: number, what: string): number {
  if (to < 0 || to >= map.length) {
    throw new InstructionError(slot, `${what} out of range from insn ${slot} to ${to}`);
  }
  if (map.at[to] === undefined) {
    throw new InstructionError(slot, `${what} from insn ${slot} into the middle of lddw at ${to - 1}`);
  }
  return to;
}
