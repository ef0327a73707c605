/**
 * opcodes: the eBPF instruction encoding as tables (RFC 9669, kernel `instruction-set.rst`).
 *
 *   opcode byte:  +----------------+--------+-------+
 *   ALU/JMP       |  op (4 bits)   | source | class |   source: BPF_K=0 imm, BPF_X=8 reg
 *   LD/ST         |  mode (3) | size (2)   | class |
 *                 +----------------+--------+-------+
 */

/** BPF_CLASS: the low three bits of the opcode. */
export const Class = {
  BPF_LD: 0x00,
  BPF_LDX: 0x01,
  BPF_ST: 0x02,
  BPF_STX: 0x03,
  BPF_ALU: 0x04,
  BPF_JMP: 0x05,
  BPF_JMP32: 0x06,
  BPF_ALU64: 0x07,
} as const;

/** BPF_SIZE: bits 3-4 of a load/store opcode. */
export const Size = { BPF_W: 0x00, BPF_H: 0x08, BPF_B: 0x10, BPF_DW: 0x18 } as const;

/** sizeBytes maps a BPF_SIZE field to its width in bytes. */
export const sizeBytes: Readonly<Record<number, 1 | 2 | 4 | 8>> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };

/** BPF_MODE: bits 5-7 of a load/store opcode. */
export const Mode = {
  BPF_IMM: 0x00,
  BPF_ABS: 0x20,
  BPF_IND: 0x40,
  BPF_MEM: 0x60,
  BPF_MEMSX: 0x80,
  BPF_ATOMIC: 0xc0,
} as const;

/** BPF_SRC: bit 3 of an ALU/JMP opcode. */
export const Source = { BPF_K: 0x00, BPF_X: 0x08 } as const;

/** ALU operation codes (high nibble). */
export const AluOp = {
  BPF_ADD: 0x00,
  BPF_SUB: 0x10,
  BPF_MUL: 0x20,
  BPF_DIV: 0x30,
  BPF_OR: 0x40,
  BPF_AND: 0x50,
  BPF_LSH: 0x60,
  BPF_RSH: 0x70,
  BPF_NEG: 0x80,
  BPF_MOD: 0x90,
  BPF_XOR: 0xa0,
  BPF_MOV: 0xb0,
  BPF_ARSH: 0xc0,
  BPF_END: 0xd0,
} as const;

/** Jump operation codes (high nibble). */
export const JmpOp = {
  BPF_JA: 0x00,
  BPF_JEQ: 0x10,
  BPF_JGT: 0x20,
  BPF_JGE: 0x30,
  BPF_JSET: 0x40,
  BPF_JNE: 0x50,
  BPF_JSGT: 0x60,
  BPF_JSGE: 0x70,
  BPF_CALL: 0x80,
  BPF_EXIT: 0x90,
  BPF_JLT: 0xa0,
  BPF_JLE: 0xb0,
  BPF_JSLT: 0xc0,
  BPF_JSLE: 0xd0,
  /** Conditional pseudo jumps (6.9+): with src BPF_MAY_GOTO, may_goto. */
  BPF_JCOND: 0xe0,
} as const;

/** Atomic operations: the imm field of a BPF_STX | BPF_ATOMIC instruction. */
export const AtomicOp = {
  BPF_ADD: 0x00,
  BPF_OR: 0x40,
  BPF_AND: 0x50,
  BPF_XOR: 0xa0,
  BPF_FETCH: 0x01,
  BPF_XCHG: 0xe0 | 0x01,
  BPF_CMPXCHG: 0xf0 | 0x01,
} as const;

/** The legal atomic imm values, each with the name the disassembler uses. */
export const atomicOps: ReadonlyMap<number, { readonly name: string; readonly fetch: boolean }> = new Map([
  [0x00, { name: 'add', fetch: false }],
  [0x40, { name: 'or', fetch: false }],
  [0x50, { name: 'and', fetch: false }],
  [0xa0, { name: 'xor', fetch: false }],
  [0x01, { name: 'add', fetch: true }],
  [0x41, { name: 'or', fetch: true }],
  [0x51, { name: 'and', fetch: true }],
  [0xa1, { name: 'xor', fetch: true }],
  [0xe1, { name: 'xchg', fetch: true }],
  [0xf1, { name: 'cmpxchg', fetch: true }],
]);

/** Endianness source for BPF_END: BPF_TO_LE uses source K, BPF_TO_BE uses source X. */
export const Endian = { BPF_TO_LE: 0x00, BPF_TO_BE: 0x08 } as const;

/** BPF_PSEUDO_*: the src field of `ld_imm64` (lddw) and of calls. */
export const Pseudo = {
  BPF_PSEUDO_MAP_FD: 1,
  BPF_PSEUDO_MAP_VALUE: 2,
  BPF_PSEUDO_BTF_ID: 3,
  BPF_PSEUDO_FUNC: 4,
  BPF_PSEUDO_MAP_IDX: 5,
  BPF_PSEUDO_MAP_IDX_VALUE: 6,
  /** On BPF_CALL: imm is a pc-relative offset to a bpf-to-bpf function. */
  BPF_PSEUDO_CALL: 1,
  /** On BPF_CALL: imm is a kernel function BTF id. */
  BPF_PSEUDO_KFUNC_CALL: 2,
} as const;

/** BPF_LD | BPF_IMM | BPF_DW: the two-slot 64-bit immediate load. */
export const LDDW = Class.BPF_LD | Mode.BPF_IMM | Size.BPF_DW;

/** BPF_MAY_GOTO: the src field of a BPF_JCOND jump that is may_goto. */
export const BPF_MAY_GOTO = 0;

/**
 * MAY_GOTO: BPF_JMP | BPF_JCOND | BPF_K (0xe5) with src BPF_MAY_GOTO, dst 0, imm 0: `may_goto pc+off`.
 * It jumps to its target once the function's hidden loop counter is spent; until then it counts
 * down and falls through (do_misc_fixups), so a loop bounded only by it always ends.
 */
export const MAY_GOTO = Class.BPF_JMP | JmpOp.BPF_JCOND | Source.BPF_K;

/** BPF_MAX_LOOPS: the iterations a function's may_goto counter allows per call (8 * 1024 * 1024, as bpf_loop's limit). */
export const BPF_MAX_LOOPS = 8 * 1024 * 1024;

/** isMayGoto tells whether an instruction is may_goto (the only BPF_JCOND instruction). */
export function isMayGoto(i: { readonly opcode: number; readonly src: number }): boolean {
  return i.opcode === MAY_GOTO && i.src === BPF_MAY_GOTO;
}

/** opClass returns the BPF_CLASS of an opcode. */
export function opClass(opcode: number): number {
  return opcode & 0x07;
}

/** isLddw tells whether an opcode is the two-slot 64-bit immediate load. */
export function isLddw(opcode: number): boolean {
  return opcode === LDDW;
}

/** MAX_BPF_STACK: bytes of stack per frame. */
export const MAX_BPF_STACK = 512;

/** MAX_CALL_FRAMES: the kernel's limit on nested bpf-to-bpf frames. */
export const MAX_CALL_FRAMES = 8;

/** MAX_TAIL_CALL_CNT: the kernel's limit on chained tail calls. */
export const MAX_TAIL_CALL_CNT = 33;

/** BPF_FUNC_tail_call: the helper id that the engines treat as a tail call. */
export const BPF_FUNC_tail_call = 12;

/** aluOpByName: the ALU operations by the mnemonic stem the assemblers and the DSL use. */
export const aluOpByName = {
  add: AluOp.BPF_ADD,
  sub: AluOp.BPF_SUB,
  mul: AluOp.BPF_MUL,
  div: AluOp.BPF_DIV,
  or: AluOp.BPF_OR,
  and: AluOp.BPF_AND,
  lsh: AluOp.BPF_LSH,
  rsh: AluOp.BPF_RSH,
  neg: AluOp.BPF_NEG,
  mod: AluOp.BPF_MOD,
  xor: AluOp.BPF_XOR,
  mov: AluOp.BPF_MOV,
  arsh: AluOp.BPF_ARSH,
  end: AluOp.BPF_END,
} as const;

/** jmpOpByName: the jump operations by mnemonic. */
export const jmpOpByName = {
  ja: JmpOp.BPF_JA,
  jeq: JmpOp.BPF_JEQ,
  jgt: JmpOp.BPF_JGT,
  jge: JmpOp.BPF_JGE,
  jset: JmpOp.BPF_JSET,
  jne: JmpOp.BPF_JNE,
  jsgt: JmpOp.BPF_JSGT,
  jsge: JmpOp.BPF_JSGE,
  call: JmpOp.BPF_CALL,
  exit: JmpOp.BPF_EXIT,
  jlt: JmpOp.BPF_JLT,
  jle: JmpOp.BPF_JLE,
  jslt: JmpOp.BPF_JSLT,
  jsle: JmpOp.BPF_JSLE,
} as const;

/** The conditional jumps: every jump but ja, call and exit. */
export type CondJmpName = Exclude<keyof typeof jmpOpByName, 'ja' | 'call' | 'exit'>;

/** The two-operand ALU operations, with the signed forms of div and mod. */
export type AluName = Exclude<keyof typeof aluOpByName, 'neg' | 'end'> | 'sdiv' | 'smod';

/** aluOpOf returns the operation of a two-operand ALU name (`sdiv` is BPF_DIV with offset 1). */
export function aluOpOf(name: AluName): number {
  return name === 'sdiv' ? AluOp.BPF_DIV : name === 'smod' ? AluOp.BPF_MOD : aluOpByName[name];
}
