import { DecodeError } from './errors.js';
import { type Instruction, insn } from './instruction.js';
import { isLddw } from './opcodes.js';

/** INSN_SIZE: bytes per instruction slot. */
export const INSN_SIZE = 8;

/**
 * decode splits little-endian bytecode into Instructions; `lddw` becomes one instruction of
 * width 2. Errors name the slot index: a length that is not a multiple of 8, or an `lddw`
 * whose second half is missing or has non-zero opcode/registers/offset.
 */
export function decode(bytes: Uint8Array): Instruction[] {
  if (bytes.length % INSN_SIZE !== 0) {
    throw new DecodeError(Math.floor(bytes.length / INSN_SIZE), `bytecode length ${bytes.length} is not a multiple of ${INSN_SIZE}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const slots = bytes.length / INSN_SIZE;
  const out: Instruction[] = [];
  for (let i = 0; i < slots; i++) {
    const at = i * INSN_SIZE;
    const opcode = view.getUint8(at);
    const regs = view.getUint8(at + 1);
    const offset = view.getInt16(at + 2, true);
    const lo = view.getInt32(at + 4, true);
    if (!isLddw(opcode)) {
      out.push(insn(opcode, regs & 0x0f, regs >> 4, offset, lo));
      continue;
    }
    if (i + 1 >= slots) throw new DecodeError(i, 'lddw is missing its second half');
    const next = (i + 1) * INSN_SIZE;
    if (view.getUint8(next) !== 0 || view.getUint8(next + 1) !== 0 || view.getInt16(next + 2, true) !== 0) {
      throw new DecodeError(i + 1, 'second half of lddw must have zero opcode, registers and offset');
    }
    const hi = view.getUint32(next + 4, true);
    out.push(insn(opcode, regs & 0x0f, regs >> 4, offset, (BigInt(hi) << 32n) | BigInt(lo >>> 0)));
    i++;
  }
  return out;
}

/** encode packs Instructions into little-endian bytecode, the form the kernel takes. */
export function encode(insns: readonly Instruction[]): Uint8Array {
  let slots = 0;
  for (const i of insns) slots += isLddw(i.opcode) ? 2 : 1;
  const bytes = new Uint8Array(slots * INSN_SIZE);
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const i of insns) {
    view.setUint8(at, i.opcode);
    view.setUint8(at + 1, ((i.src & 0x0f) << 4) | (i.dst & 0x0f));
    view.setInt16(at + 2, i.offset, true);
    view.setUint32(at + 4, Number(BigInt.asUintN(32, i.imm)), true);
    at += INSN_SIZE;
    if (isLddw(i.opcode)) {
      view.setUint32(at + 4, Number(BigInt.asUintN(32, i.imm >> 32n)), true);
      at += INSN_SIZE;
    }
  }
  return bytes;
}
