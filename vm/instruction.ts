import { isLddw } from './opcodes.js';

/**
 * Instruction is one eBPF instruction as an immutable value.
 *
 *   byte  0        1          2..3       4..7
 *       +--------+----+----+----------+----------------+
 *       | opcode |src |dst | offset   | imm (int32)    |   dst is the low nibble
 *       +--------+----+----+----------+----------------+
 *
 * `lddw` (BPF_LD | BPF_IMM | BPF_DW) occupies two slots; here it is one Instruction of
 * width 2 whose `imm` is the whole 64-bit constant. For every other instruction `imm` is the
 * sign-extended 32-bit immediate.
 */
export interface Instruction {
  readonly opcode: number;
  readonly dst: number;
  readonly src: number;
  readonly offset: number;
  /** The 64-bit constant: int32 sign-extended, or the full value for `lddw`. */
  readonly imm: bigint;
}

/** insn builds an Instruction, normalising the constant. */
export function insn(opcode: number, dst: number, src: number, offset: number, imm: bigint | number): Instruction {
  const big = typeof imm === 'bigint' ? imm : BigInt(imm);
  return Object.freeze({
    opcode,
    dst,
    src,
    offset,
    imm: isLddw(opcode) ? BigInt.asIntN(64, big) : BigInt.asIntN(32, big),
  });
}

/** width returns how many 8-byte slots an instruction occupies (2 for `lddw`). */
export function width(i: Instruction): 1 | 2 {
  return isLddw(i.opcode) ? 2 : 1;
}

/** imm32 returns the 32-bit immediate of an instruction as a signed number. */
export function imm32(i: Instruction): number {
  return Number(BigInt.asIntN(32, i.imm));
}

/** slotIndexes maps each instruction's position in a list to its slot index in the bytecode. */
export function slotIndexes(insns: readonly Instruction[]): number[] {
  const out: number[] = [];
  let slot = 0;
  for (const i of insns) {
    out.push(slot);
    slot += width(i);
  }
  return out;
}
