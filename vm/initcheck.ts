import { InstructionError } from './errors.js';
import type { Instruction } from './instruction.js';
import { type SlotMap, flowOf } from './cfg.js';
import { AluOp, Class, JmpOp, Mode, Source, opClass } from './opcodes.js';

/** regsRead returns the bitmask of registers an instruction reads (bit n = rN). */
export function regsRead(i: Instruction): number {
  const cls = opClass(i.opcode);
  const x = (i.opcode & Source.BPF_X) !== 0;
  const op = i.opcode & 0xf0;
  const bit = (r: number) => 1 << r;
  switch (cls) {
    case Class.BPF_ALU:
    case Class.BPF_ALU64:
      if (op === AluOp.BPF_MOV) return x ? bit(i.src) : 0;
      if (op === AluOp.BPF_NEG || op === AluOp.BPF_END) return bit(i.dst);
      return bit(i.dst) | (x ? bit(i.src) : 0);
    case Class.BPF_JMP:
    case Class.BPF_JMP32:
      if (op === JmpOp.BPF_JA || op === JmpOp.BPF_JCOND) return 0; // may_goto reads no register
      if (op === JmpOp.BPF_EXIT) return bit(0);
      if (op === JmpOp.BPF_CALL) return x ? bit(i.dst) : 0;
      return bit(i.dst) | (x ? bit(i.src) : 0);
    case Class.BPF_LDX:
      return bit(i.src);
    case Class.BPF_ST:
      return bit(i.dst);
    case Class.BPF_STX:
      return bit(i.dst) | bit(i.src) | ((i.opcode & 0xe0) === Mode.BPF_ATOMIC && Number(i.imm) === 0xf1 ? bit(0) : 0);
    default: {
      const mode = i.opcode & 0xe0;
      if (mode === Mode.BPF_ABS) return bit(6);
      if (mode === Mode.BPF_IND) return bit(6) | bit(i.src);
      return 0;
    }
  }
}

const CALLER_SAVED = 0b111110; // r1-r5

/** applyWrites returns the initialised-register mask after an instruction. */
function applyWrites(i: Instruction, mask: number): number {
  const cls = opClass(i.opcode);
  const op = i.opcode & 0xf0;
  switch (cls) {
    case Class.BPF_ALU:
    case Class.BPF_ALU64:
    case Class.BPF_LDX:
      return mask | (1 << i.dst);
    case Class.BPF_JMP:
      if (op === JmpOp.BPF_CALL) return (mask & ~CALLER_SAVED) | 1;
      return mask;
    case Class.BPF_STX:
      if ((i.opcode & 0xe0) !== Mode.BPF_ATOMIC || (Number(i.imm) & 1) === 0) return mask;
      return mask | (Number(i.imm) === 0xf1 ? 1 : 1 << i.src);
    case Class.BPF_LD:
      if ((i.opcode & 0xe0) === Mode.BPF_IMM) return mask | (1 << i.dst);
      return (mask & ~CALLER_SAVED) | 1;
    default:
      return mask;
  }
}

/**
 * checkInitialised proves that no path reads a register before writing it (the kernel's
 * `R%d !read_ok`). `entry` maps each function's first slot to the registers live there.
 */
export function checkInitialised(map: SlotMap, entry: ReadonlyMap<number, number>): void {
  const state = new Int32Array(map.length).fill(-1); // -1: not reached yet; else the mask
  const work: number[] = [];
  for (const [slot, mask] of entry) {
    state[slot] = mask;
    work.push(slot);
  }
  while (work.length > 0) {
    const slot = work.pop()!;
    const i = map.at[slot]!;
    const mask = state[slot];
    const missing = regsRead(i) & ~mask;
    if (missing !== 0) {
      const r = 31 - Math.clz32(missing & -missing);
      throw new InstructionError(slot, `R${r} !read_ok`);
    }
    const out = applyWrites(i, mask);
    for (const to of flowOf(map, slot).next) {
      if (to >= map.length) continue;
      const before = state[to];
      const merged = before === -1 ? out : before & out;
      if (merged !== before) {
        state[to] = merged;
        work.push(to);
      }
    }
  }
}
