import { type Instruction, insn } from '../instruction.js';
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
} from '../opcodes.js';
import type { AsmItem } from './item.js';
import { OperandError, isReg, parseImm32, parseImm64, parseMem, parseReg, parseTarget } from './operands.js';

const ALU = new Set(['add', 'sub', 'mul', 'div', 'or', 'and', 'lsh', 'rsh', 'mod', 'xor', 'mov', 'arsh', 'sdiv', 'smod']);
const JMP = new Set(Object.keys(jmpOpByName).filter((n) => !['ja', 'call', 'exit'].includes(n)));
const SIZE: Record<string, number> = { b: Size.BPF_B, h: Size.BPF_H, w: Size.BPF_W, dw: Size.BPF_DW };
const ATOMIC: Record<string, number> = {
  add: AtomicOp.BPF_ADD,
  or: AtomicOp.BPF_OR,
  and: AtomicOp.BPF_AND,
  xor: AtomicOp.BPF_XOR,
  xchg: AtomicOp.BPF_XCHG,
  cmpxchg: AtomicOp.BPF_CMPXCHG,
};

function arity(name: string, ops: readonly string[], n: number): void {
  if (ops.length !== n) throw new OperandError(`invalid number of operands for ${name}: expected ${n}, got ${ops.length}`);
}

function alu(cls: number, op: number, off: number, ops: readonly string[]): Instruction {
  const dst = parseReg(ops[0]);
  if (isReg(ops[1])) return insn(cls | op | Source.BPF_X, dst, parseReg(ops[1]), off, 0);
  return insn(cls | op | Source.BPF_K, dst, 0, off, parseImm32(ops[1]));
}

/**
 * parseDialect parses one line of the conformance suite's assembly dialect
 * (`add32 %r0, 1`, `ldxw %r0, [%r1+4]`, `jne %r0, 15, failed`, `lock fetch add [%r10-8], %r1`).
 */
export function parseDialect(mnemonic: string, ops: readonly string[]): AsmItem {
  const m = mnemonic.toLowerCase();
  let r: RegExpExecArray | null;
  if (m === 'exit') return (arity(m, ops, 0), { insn: insn(Class.BPF_JMP | JmpOp.BPF_EXIT, 0, 0, 0, 0) });
  if (m === 'lock') return lock(ops);
  if (m === 'call' || m === 'callx') return call(m, ops);
  if (m === 'ja' || m === 'ja32') {
    arity(m, ops, 1);
    return m === 'ja'
      ? { insn: insn(Class.BPF_JMP | JmpOp.BPF_JA, 0, 0, 0, 0), target: parseTarget(ops[0]), field: 'offset' }
      : { insn: insn(Class.BPF_JMP32 | JmpOp.BPF_JA, 0, 0, 0, 0), target: parseTarget(ops[0]), field: 'imm' };
  }
  if ((r = /^(j[a-z]+?)(32)?$/.exec(m)) && JMP.has(r[1])) {
    arity(m, ops, 3);
    const cls = r[2] ? Class.BPF_JMP32 : Class.BPF_JMP;
    const dst = parseReg(ops[0]);
    const base = isReg(ops[1])
      ? insn(cls | jmpOpByName[r[1] as CondJmpName] | Source.BPF_X, dst, parseReg(ops[1]), 0, 0)
      : insn(cls | jmpOpByName[r[1] as CondJmpName] | Source.BPF_K, dst, 0, 0, parseImm32(ops[1]));
    return { insn: base, target: parseTarget(ops[2]), field: 'offset' };
  }
  if ((r = /^neg(32|64)?$/.exec(m))) {
    arity(m, ops, 1);
    return { insn: insn((r[1] === '32' ? Class.BPF_ALU : Class.BPF_ALU64) | AluOp.BPF_NEG, parseReg(ops[0]), 0, 0, 0) };
  }
  if ((r = /^movsx(8|16|32)(32|64)$/.exec(m))) {
    arity(m, ops, 2);
    const cls = r[2] === '32' ? Class.BPF_ALU : Class.BPF_ALU64;
    return { insn: insn(cls | AluOp.BPF_MOV | Source.BPF_X, parseReg(ops[0]), parseReg(ops[1]), Number(r[1]), 0) };
  }
  if ((r = /^(le|be|bswap|swap)(16|32|64)$/.exec(m))) {
    arity(m, ops, 1);
    const code =
      r[1] === 'le'
        ? Class.BPF_ALU | AluOp.BPF_END
        : r[1] === 'be'
          ? Class.BPF_ALU | AluOp.BPF_END | Source.BPF_X
          : Class.BPF_ALU64 | AluOp.BPF_END;
    return { insn: insn(code, parseReg(ops[0]), 0, 0, Number(r[2])) };
  }
  if ((r = /^([a-z]+?)(32|64)?$/.exec(m)) && ALU.has(r[1])) {
    arity(m, ops, 2);
    const signed = r[1] === 'sdiv' || r[1] === 'smod' ? 1 : 0;
    return { insn: alu(r[2] === '32' ? Class.BPF_ALU : Class.BPF_ALU64, aluOpOf(r[1] as AluName), signed, ops) };
  }
  if (m === 'lddw') {
    arity(m, ops, 2);
    return { insn: insn(LDDW, parseReg(ops[0]), 0, 0, parseImm64(ops[1])) };
  }
  if ((r = /^ldx(s?)(b|h|w|dw)$/.exec(m))) {
    arity(m, ops, 2);
    if (r[1] && r[2] === 'dw') throw new OperandError(`unknown mnemonic ${m}`);
    const { reg, off } = parseMem(ops[1]);
    return { insn: insn(Class.BPF_LDX | (r[1] ? Mode.BPF_MEMSX : Mode.BPF_MEM) | SIZE[r[2]], parseReg(ops[0]), reg, off, 0) };
  }
  if ((r = /^st(x?)(b|h|w|dw)$/.exec(m))) {
    arity(m, ops, 2);
    const { reg, off } = parseMem(ops[0]);
    return r[1]
      ? { insn: insn(Class.BPF_STX | Mode.BPF_MEM | SIZE[r[2]], reg, parseReg(ops[1]), off, 0) }
      : { insn: insn(Class.BPF_ST | Mode.BPF_MEM | SIZE[r[2]], reg, 0, off, parseImm32(ops[1])) };
  }
  if ((r = /^ld(abs|ind)(b|h|w)$/.exec(m))) {
    if (r[1] === 'abs') return (arity(m, ops, 1), { insn: insn(Class.BPF_LD | Mode.BPF_ABS | SIZE[r[2]], 0, 0, 0, parseImm32(ops[0])) });
    arity(m, ops, 2);
    return { insn: insn(Class.BPF_LD | Mode.BPF_IND | SIZE[r[2]], 0, parseReg(ops[0]), 0, parseImm32(ops[1])) };
  }
  throw new OperandError(`unknown mnemonic ${mnemonic}`);
}

function call(m: string, ops: readonly string[]): AsmItem {
  const base = Class.BPF_JMP | JmpOp.BPF_CALL;
  if (ops.length === 1 && /^local\s+/.test(ops[0])) {
    return { insn: insn(base, 0, Pseudo.BPF_PSEUDO_CALL, 0, 0), target: parseTarget(ops[0].replace(/^local\s+/, '')), field: 'imm' };
  }
  arity(m, ops, 1);
  if (isReg(ops[0]) || m === 'callx') return { insn: insn(base | Source.BPF_X, parseReg(ops[0]), 0, 0, 0) };
  return { insn: insn(base, 0, 0, 0, parseImm32(ops[0])) };
}

function lock(ops: readonly string[]): AsmItem {
  // ops[0] is "[fetch] op[32] [%rD+off]" once the mnemonic is split off
  if (ops.length !== 2) throw new OperandError('invalid number of operands for lock');
  const m = /^(fetch\s+)?([a-z]+?)(32)?\s+(\[.*\])$/.exec(ops[0].trim());
  if (!m || !(m[2] in ATOMIC)) throw new OperandError(`invalid lock operation '${ops[0].trim()}'`);
  const code = ATOMIC[m[2]] | (m[1] ? AtomicOp.BPF_FETCH : 0);
  const { reg, off } = parseMem(m[4]);
  const size = m[3] ? Size.BPF_W : Size.BPF_DW;
  return { insn: insn(Class.BPF_STX | Mode.BPF_ATOMIC | size, reg, parseReg(ops[1]), off, code) };
}
