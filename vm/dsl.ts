import { BpfError } from './errors.js';
import { type Instruction, insn, width } from './instruction.js';
import {
  AluOp,
  AtomicOp,
  Class,
  JmpOp,
  LDDW,
  Mode,
  Pseudo,
  Size,
  Source,
  type AluName,
  type CondJmpName,
  aluOpOf,
  jmpOpByName,
} from './opcodes.js';

/**
 * dsl: write programs in TypeScript with symbolic labels instead of hand-counted offsets,
 * in the manner of cilium/ebpf's `asm` package:
 *
 *   link([
 *     mov(R0, 0),
 *     jeq(R1, 0, 'out'),
 *     add(R0, R1),
 *     label('out'),
 *     exit(),
 *   ])
 */

/** Reg is a register operand; the R0..R10 constants are the only values. */
export interface Reg {
  readonly reg: number;
}
const reg = (n: number): Reg => Object.freeze({ reg: n });
export const R0 = reg(0),
  R1 = reg(1),
  R2 = reg(2),
  R3 = reg(3),
  R4 = reg(4),
  R5 = reg(5);
export const R6 = reg(6),
  R7 = reg(7),
  R8 = reg(8),
  R9 = reg(9),
  R10 = reg(10);

/** Operand: a register or a 32-bit immediate. */
export type Operand = Reg | number;

/** Item is an element of a DSL program: an instruction (maybe awaiting a label) or a label. */
export type Item =
  | { readonly kind: 'insn'; readonly insn: Instruction; readonly target?: string; readonly field?: 'offset' | 'imm' }
  | { readonly kind: 'label'; readonly name: string };

const plain = (i: Instruction): Item => ({ kind: 'insn', insn: i });
const isReg = (o: Operand): o is Reg => typeof o === 'object';

function aluItem(cls: number, op: number, dst: Reg, src: Operand, off = 0): Item {
  return plain(isReg(src) ? insn(cls | op | Source.BPF_X, dst.reg, src.reg, off, 0) : insn(cls | op | Source.BPF_K, dst.reg, 0, off, src));
}

/** alu64 builds a 64-bit ALU instruction (`r0 += r1`), alu32 the 32-bit form (`w0 += w1`). */
export const alu64 = (op: AluName, dst: Reg, src: Operand): Item =>
  aluItem(Class.BPF_ALU64, aluOpOf(op), dst, src, op === 'sdiv' || op === 'smod' ? 1 : 0);
export const alu32 = (op: AluName, dst: Reg, src: Operand): Item =>
  aluItem(Class.BPF_ALU, aluOpOf(op), dst, src, op === 'sdiv' || op === 'smod' ? 1 : 0);

/** Shorthands for the common 64-bit operations. */
export const mov = (dst: Reg, src: Operand) => alu64('mov', dst, src);
export const add = (dst: Reg, src: Operand) => alu64('add', dst, src);
export const sub = (dst: Reg, src: Operand) => alu64('sub', dst, src);

/** neg negates a register (64-bit, or 32-bit with `bits` 32). */
export const neg = (dst: Reg, bits: 32 | 64 = 64): Item =>
  plain(insn((bits === 64 ? Class.BPF_ALU64 : Class.BPF_ALU) | AluOp.BPF_NEG, dst.reg, 0, 0, 0));

/** movsx sign-extends the low `from` bits of src into dst (`r0 = (s8)r1`). */
export const movsx = (dst: Reg, src: Reg, from: 8 | 16 | 32, bits: 32 | 64 = 64): Item =>
  plain(insn((bits === 64 ? Class.BPF_ALU64 : Class.BPF_ALU) | AluOp.BPF_MOV | Source.BPF_X, dst.reg, src.reg, from, 0));

/** endian: `le`/`be` convert (BPF_ALU | BPF_END), `bswap` swaps unconditionally (BPF_ALU64). */
export const endian = (kind: 'le' | 'be' | 'bswap', dst: Reg, bits: 16 | 32 | 64): Item => {
  const code = kind === 'bswap' ? Class.BPF_ALU64 | AluOp.BPF_END : Class.BPF_ALU | AluOp.BPF_END | (kind === 'be' ? Source.BPF_X : 0);
  return plain(insn(code, dst.reg, 0, 0, bits));
};

/** jmp builds a conditional jump to `target` (a label); `bits` 32 makes it a JMP32. */
export const jmp = (op: CondJmpName, dst: Reg, src: Operand, target: string, bits: 32 | 64 = 64): Item => {
  const cls = bits === 64 ? Class.BPF_JMP : Class.BPF_JMP32;
  const i = isReg(src)
    ? insn(cls | jmpOpByName[op] | Source.BPF_X, dst.reg, src.reg, 0, 0)
    : insn(cls | jmpOpByName[op] | Source.BPF_K, dst.reg, 0, 0, src);
  return { kind: 'insn', insn: i, target, field: 'offset' };
};
export const jeq = (dst: Reg, src: Operand, target: string) => jmp('jeq', dst, src, target);
export const jne = (dst: Reg, src: Operand, target: string) => jmp('jne', dst, src, target);

/** ja jumps unconditionally; gotol is the JMP32 form with a 32-bit offset. */
export const ja = (target: string): Item => ({
  kind: 'insn',
  insn: insn(Class.BPF_JMP | JmpOp.BPF_JA, 0, 0, 0, 0),
  target,
  field: 'offset',
});
export const gotol = (target: string): Item => ({
  kind: 'insn',
  insn: insn(Class.BPF_JMP32 | JmpOp.BPF_JA, 0, 0, 0, 0),
  target,
  field: 'imm',
});

/** mayGoto jumps to `target` once the function's loop counter is spent, else counts down and falls through (`may_goto`). */
export const mayGoto = (target: string): Item => ({
  kind: 'insn',
  insn: insn(Class.BPF_JMP | JmpOp.BPF_JCOND, 0, 0, 0, 0),
  target,
  field: 'offset',
});

type Width = 'u8' | 'u16' | 'u32' | 'u64';
const SIZES: Record<Width, number> = { u8: Size.BPF_B, u16: Size.BPF_H, u32: Size.BPF_W, u64: Size.BPF_DW };

/** ldx loads `dst = *(w *)(src + off)`; ldxs sign-extends (`s8`..`s32`). */
export const ldx = (w: Width, dst: Reg, src: Reg, off: number): Item =>
  plain(insn(Class.BPF_LDX | Mode.BPF_MEM | SIZES[w], dst.reg, src.reg, off, 0));
export const ldxs = (w: 's8' | 's16' | 's32', dst: Reg, src: Reg, off: number): Item =>
  plain(insn(Class.BPF_LDX | Mode.BPF_MEMSX | SIZES[w.replace('s', 'u') as Width], dst.reg, src.reg, off, 0));

/** st stores an immediate, stx a register: `*(w *)(dst + off) = src`. */
export const st = (w: Width, dst: Reg, off: number, imm: number): Item =>
  plain(insn(Class.BPF_ST | Mode.BPF_MEM | SIZES[w], dst.reg, 0, off, imm));
export const stx = (w: Width, dst: Reg, off: number, src: Reg): Item =>
  plain(insn(Class.BPF_STX | Mode.BPF_MEM | SIZES[w], dst.reg, src.reg, off, 0));

type AtomicName = 'add' | 'or' | 'and' | 'xor' | 'fetch_add' | 'fetch_or' | 'fetch_and' | 'fetch_xor' | 'xchg' | 'cmpxchg';
const ATOMIC_CODES: Record<AtomicName, number> = {
  add: AtomicOp.BPF_ADD,
  or: AtomicOp.BPF_OR,
  and: AtomicOp.BPF_AND,
  xor: AtomicOp.BPF_XOR,
  fetch_add: AtomicOp.BPF_ADD | AtomicOp.BPF_FETCH,
  fetch_or: AtomicOp.BPF_OR | AtomicOp.BPF_FETCH,
  fetch_and: AtomicOp.BPF_AND | AtomicOp.BPF_FETCH,
  fetch_xor: AtomicOp.BPF_XOR | AtomicOp.BPF_FETCH,
  xchg: AtomicOp.BPF_XCHG,
  cmpxchg: AtomicOp.BPF_CMPXCHG,
};

/** atomic builds `lock *(w *)(dst + off) op= src` and the fetch/xchg/cmpxchg forms. */
export const atomic = (op: AtomicName, w: 'u32' | 'u64', dst: Reg, off: number, src: Reg): Item =>
  plain(insn(Class.BPF_STX | Mode.BPF_ATOMIC | SIZES[w], dst.reg, src.reg, off, ATOMIC_CODES[op]));

/** lddw loads a 64-bit constant; with a pseudo source, a map reference (`BPF_PSEUDO_*`). */
export const lddw = (dst: Reg, value: bigint | number, src = 0): Item => plain(insn(LDDW, dst.reg, src, 0, BigInt(value)));

/** ldabs/ldind are the legacy packet loads (`r0 = *(u16 *)skb[12]`). */
export const ldabs = (w: 'u8' | 'u16' | 'u32', imm: number): Item => plain(insn(Class.BPF_LD | Mode.BPF_ABS | SIZES[w], 0, 0, 0, imm));
export const ldind = (w: 'u8' | 'u16' | 'u32', src: Reg, imm: number): Item =>
  plain(insn(Class.BPF_LD | Mode.BPF_IND | SIZES[w], 0, src.reg, 0, imm));

/** call calls a helper by id; callLocal a bpf-to-bpf function by label; callx a helper in a register. */
export const call = (helper: number): Item => plain(insn(Class.BPF_JMP | JmpOp.BPF_CALL, 0, 0, 0, helper));
export const callLocal = (target: string): Item => ({
  kind: 'insn',
  insn: insn(Class.BPF_JMP | JmpOp.BPF_CALL, 0, Pseudo.BPF_PSEUDO_CALL, 0, 0),
  target,
  field: 'imm',
});
export const callx = (r: Reg): Item => plain(insn(Class.BPF_JMP | JmpOp.BPF_CALL | Source.BPF_X, r.reg, 0, 0, 0));

/** exit returns r0. */
export const exit = (): Item => plain(insn(Class.BPF_JMP | JmpOp.BPF_EXIT, 0, 0, 0, 0));

/** label names the next instruction. */
export const label = (name: string): Item => ({ kind: 'label', name });

/** DslError: a label used but not defined, or defined twice (the program's author's error, as AssemblyError is). */
export class DslError extends BpfError {}

/** link resolves labels to slot offsets and returns the instructions. */
export function link(items: readonly Item[]): Instruction[] {
  const labels = new Map<string, number>();
  let slot = 0;
  for (const it of items) {
    if (it.kind === 'label') {
      if (labels.has(it.name)) throw new DslError(`label ${it.name} defined twice`);
      labels.set(it.name, slot);
    } else slot += width(it.insn);
  }
  const out: Instruction[] = [];
  slot = 0;
  for (const it of items) {
    if (it.kind === 'label') continue;
    let i = it.insn;
    if (it.target !== undefined) {
      const to = labels.get(it.target);
      if (to === undefined) throw new DslError(`label ${it.target} is not defined`);
      const rel = to - (slot + 1);
      i = it.field === 'imm' ? insn(i.opcode, i.dst, i.src, i.offset, rel) : insn(i.opcode, i.dst, i.src, rel, i.imm);
    }
    out.push(i);
    slot += width(i);
  }
  return out;
}
