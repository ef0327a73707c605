import { kernelSymbols } from '../disassembler.js';
import { helperId } from '../../uapi/helperNames.js';
import { type Instruction, insn } from '../instruction.js';
import { AluOp, AtomicOp, Class, JmpOp, LDDW, Mode, Pseudo, Source } from '../opcodes.js';
import type { AsmItem } from './item.js';
import { OperandError, parseImm32, parseImm64, parseOffset, parseReg, parseTarget } from './operands.js';

const invert = (t: Record<number, string>) => Object.fromEntries(Object.entries(t).map(([k, v]) => [v, Number(k)]));
const ALU = invert(kernelSymbols.alu);
const JMP = invert(kernelSymbols.jmp);
const TYPE = invert(kernelSymbols.type);
const STYPE = invert(kernelSymbols.stype);
const ATOMIC: Record<string, number> = { '+=': AtomicOp.BPF_ADD, '|=': AtomicOp.BPF_OR, '&=': AtomicOp.BPF_AND, '^=': AtomicOp.BPF_XOR };
const FETCH: Record<string, number> = {
  fetch_add: AtomicOp.BPF_ADD | 1,
  fetch_or: AtomicOp.BPF_OR | 1,
  fetch_and: AtomicOp.BPF_AND | 1,
  fetch_xor: AtomicOp.BPF_XOR | 1,
  xchg: AtomicOp.BPF_XCHG,
  cmpxchg: AtomicOp.BPF_CMPXCHG,
};

const REG = '([rw]\\d+)';
const NUM = '(-?(?:0x[0-9a-fA-F]+|\\d+))';
const PTR = '\\*?\\((u8|u16|u32|u64|s8|s16|s32) \\*\\)\\(r(\\d+) ([+-]\\s*\\d+)\\)';

const cls64 = (reg: string) => (reg.startsWith('w') ? Class.BPF_ALU : Class.BPF_ALU64);
const sizeOf = (t: string) => TYPE[t] ?? STYPE[t];

type Rule = readonly [RegExp, (m: RegExpExecArray) => AsmItem];

const RULES: readonly Rule[] = [
  [/^exit$/, () => ({ insn: insn(Class.BPF_JMP | JmpOp.BPF_EXIT, 0, 0, 0, 0) })],
  [/^goto\s+(\S+)$/, (m) => ({ insn: insn(Class.BPF_JMP | JmpOp.BPF_JA, 0, 0, 0, 0), target: parseTarget(m[1]), field: 'offset' })],
  [/^gotol\s+(\S+)$/, (m) => ({ insn: insn(Class.BPF_JMP32 | JmpOp.BPF_JA, 0, 0, 0, 0), target: parseTarget(m[1]), field: 'imm' })],
  [/^may_goto\s+(\S+)$/, (m) => ({ insn: insn(Class.BPF_JMP | JmpOp.BPF_JCOND, 0, 0, 0, 0), target: parseTarget(m[1]), field: 'offset' })],
  [/^callx\s+(r\d+)$/, (m) => ({ insn: insn(Class.BPF_JMP | JmpOp.BPF_CALL | Source.BPF_X, parseReg(m[1]), 0, 0, 0) })],
  [/^call\s+pc([+-]\d+)$/, (m) => ({ insn: insn(Class.BPF_JMP | JmpOp.BPF_CALL, 0, Pseudo.BPF_PSEUDO_CALL, 0, Number(m[1])) })],
  [
    /^call\s+kernel-function#(-?\d+)$/,
    (m) => ({ insn: insn(Class.BPF_JMP | JmpOp.BPF_CALL, 0, Pseudo.BPF_PSEUDO_KFUNC_CALL, 0, Number(m[1])) }),
  ],
  [/^call\s+(?:([a-z_][\w]*)#)?(\d+)$/, (m) => ({ insn: insn(Class.BPF_JMP | JmpOp.BPF_CALL, 0, 0, 0, Number(m[2])) })],
  [
    /^call\s+([a-z_][\w]*)$/,
    (m) => {
      const id = helperId(m[1]);
      if (id === undefined) throw new OperandError(`unknown helper ${m[1]}`);
      return { insn: insn(Class.BPF_JMP | JmpOp.BPF_CALL, 0, 0, 0, id) };
    },
  ],
  [
    new RegExp(`^if ${REG} (\\S+) (?:${REG}|${NUM}) goto (\\S+)$`),
    (m) => {
      const op = JMP[m[2]];
      if (op === undefined) throw new OperandError(`unknown comparison '${m[2]}'`);
      const cls = m[1].startsWith('w') ? Class.BPF_JMP32 : Class.BPF_JMP;
      const base =
        m[3] !== undefined
          ? insn(cls | op | Source.BPF_X, parseReg(m[1]), parseReg(m[3]), 0, 0)
          : insn(cls | op | Source.BPF_K, parseReg(m[1]), 0, 0, parseImm32(m[4]));
      return { insn: base, target: parseTarget(m[5]), field: 'offset' };
    },
  ],
  [
    new RegExp(`^lock ${PTR} (\\S+) ${REG}$`),
    (m) => {
      const code = ATOMIC[m[4]];
      if (code === undefined) throw new OperandError(`unknown atomic operation '${m[4]}'`);
      return { insn: insn(Class.BPF_STX | Mode.BPF_ATOMIC | sizeOf(m[1]), Number(m[2]), parseReg(m[5]), parseOffset(m[3]), code) };
    },
  ],
  [
    new RegExp(`^${REG} = atomic(?:64)?_(\\w+)\\(${PTR}, (?:r0, )?${REG}\\)$`),
    (m) => {
      const code = FETCH[m[2]];
      if (code === undefined) throw new OperandError(`unknown atomic operation '${m[2]}'`);
      return { insn: insn(Class.BPF_STX | Mode.BPF_ATOMIC | sizeOf(m[3]), Number(m[4]), parseReg(m[6]), parseOffset(m[5]), code) };
    },
  ],
  [
    new RegExp(`^${PTR} = ${REG}$`),
    (m) => ({ insn: insn(Class.BPF_STX | Mode.BPF_MEM | sizeOf(m[1]), Number(m[2]), parseReg(m[4]), parseOffset(m[3]), 0) }),
  ],
  [
    new RegExp(`^${PTR} = ${NUM}$`),
    (m) => ({ insn: insn(Class.BPF_ST | Mode.BPF_MEM | sizeOf(m[1]), Number(m[2]), 0, parseOffset(m[3]), parseImm32(m[4])) }),
  ],
  [
    new RegExp(`^${REG} = ${PTR}$`),
    (m) => {
      const mode = m[2].startsWith('s') ? Mode.BPF_MEMSX : Mode.BPF_MEM;
      return { insn: insn(Class.BPF_LDX | mode | sizeOf(m[2]), parseReg(m[1]), Number(m[3]), parseOffset(m[4]), 0) };
    },
  ],
  [/^r0 = \*\((u8|u16|u32) \*\)skb\[(-?\d+)\]$/, (m) => ({ insn: insn(Class.BPF_LD | Mode.BPF_ABS | TYPE[m[1]], 0, 0, 0, Number(m[2])) })],
  [
    /^r0 = \*\((u8|u16|u32) \*\)skb\[r(\d+) ([+-]\d+)\]$/,
    (m) => ({ insn: insn(Class.BPF_LD | Mode.BPF_IND | TYPE[m[1]], 0, parseReg(m[2]), 0, Number(m[3])) }),
  ],
  [new RegExp(`^${REG} = ${NUM} ll$`), (m) => ({ insn: insn(LDDW, parseReg(m[1]), 0, 0, parseImm64(m[2])) })],
  [
    /^r(\d+) = map\[(fd|idx):(\d+)\](?:\[0\]\+(\d+))? ll$/,
    (m) => {
      const src =
        m[2] === 'fd'
          ? m[4]
            ? Pseudo.BPF_PSEUDO_MAP_VALUE
            : Pseudo.BPF_PSEUDO_MAP_FD
          : m[4]
            ? Pseudo.BPF_PSEUDO_MAP_IDX_VALUE
            : Pseudo.BPF_PSEUDO_MAP_IDX;
      return { insn: insn(LDDW, parseReg(m[1]), src, 0, (BigInt(m[4] ?? 0) << 32n) | BigInt(m[3])) };
    },
  ],
  [
    /^r(\d+) = btf_id\[(\d+)\](?:\[fd:(\d+)\])? ll$/,
    (m) => ({ insn: insn(LDDW, parseReg(m[1]), Pseudo.BPF_PSEUDO_BTF_ID, 0, (BigInt(m[3] ?? 0) << 32n) | BigInt(m[2])) }),
  ],
  [
    /^r(\d+) = func\[pc([+-]\d+)\] ll$/,
    (m) => ({ insn: insn(LDDW, parseReg(m[1]), Pseudo.BPF_PSEUDO_FUNC, 0, BigInt.asUintN(32, BigInt(m[2]))) }),
  ],
  [new RegExp(`^${REG} = -${REG}$`), (m) => ({ insn: insn(cls64(m[1]) | AluOp.BPF_NEG, parseReg(m[1]), 0, 0, 0) })],
  [
    new RegExp(`^${REG} = (le|be|bswap)(16|32|64) ${REG}$`),
    (m) => {
      const code = m[2] === 'bswap' ? Class.BPF_ALU64 | AluOp.BPF_END : Class.BPF_ALU | AluOp.BPF_END | (m[2] === 'be' ? Source.BPF_X : 0);
      return { insn: insn(code, parseReg(m[1]), 0, 0, Number(m[3])) };
    },
  ],
  [
    new RegExp(`^${REG} = \\(s(8|16|32)\\)${REG}$`),
    (m) => ({ insn: insn(cls64(m[1]) | AluOp.BPF_MOV | Source.BPF_X, parseReg(m[1]), parseReg(m[3]), Number(m[2]), 0) }),
  ],
  [new RegExp(`^${REG} (s?)(\\S*=) (?:${REG}|${NUM})$`), (m) => aluInsn(m)],
];

function aluInsn(m: RegExpExecArray): AsmItem {
  const signed = m[2] === 's' && (m[3] === '/=' || m[3] === '%=');
  const op = ALU[signed ? m[3] : m[2] + m[3]];
  if (op === undefined) throw new OperandError(`unknown operator '${m[2]}${m[3]}'`);
  const cls = cls64(m[1]);
  const i: Instruction =
    m[4] !== undefined
      ? insn(cls | op | Source.BPF_X, parseReg(m[1]), parseReg(m[4]), signed ? 1 : 0, 0)
      : insn(cls | op | Source.BPF_K, parseReg(m[1]), 0, signed ? 1 : 0, parseImm32(m[5]));
  return { insn: i };
}

/** looksKernel tells whether a line is in the kernel's syntax rather than the dialect's. */
export function looksKernel(line: string): boolean {
  return /=|^if\s|^goto|^gotol|^may_goto|^callx\s+r|^call\s+(pc|kernel-function|[a-z_]\w*#|bpf_)/.test(line);
}

/**
 * parseKernel parses one line in the syntax `disassemble` prints (and `bpftool prog dump
 * xlated` / `llvm-objdump -d` print): `r0 = *(u32 *)(r1 +4)`, `if w1 > 0x3 goto pc+2`.
 */
export function parseKernel(line: string): AsmItem {
  const text = line
    .replace(/\s+/g, ' ')
    .replace(/\(r(\d+) ?([+-]) ?(\d+)\)/g, '(r$1 $2$3)')
    .trim();
  for (const [re, build] of RULES) {
    const m = re.exec(text);
    if (m) return build(m);
  }
  throw new OperandError(`cannot parse '${line.trim()}'`);
}
