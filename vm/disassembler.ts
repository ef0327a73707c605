import { helperName } from '../uapi/helperNames.js';
import type { Instruction } from './instruction.js';
import { width } from './instruction.js';
import { AluOp, Class, JmpOp, Mode, Pseudo, Source, atomicOps, opClass } from './opcodes.js';

const ALU_SYM: Record<number, string> = {
  [AluOp.BPF_ADD]: '+=',
  [AluOp.BPF_SUB]: '-=',
  [AluOp.BPF_MUL]: '*=',
  [AluOp.BPF_DIV]: '/=',
  [AluOp.BPF_OR]: '|=',
  [AluOp.BPF_AND]: '&=',
  [AluOp.BPF_LSH]: '<<=',
  [AluOp.BPF_RSH]: '>>=',
  [AluOp.BPF_MOD]: '%=',
  [AluOp.BPF_XOR]: '^=',
  [AluOp.BPF_MOV]: '=',
  [AluOp.BPF_ARSH]: 's>>=',
};
const JMP_SYM: Record<number, string> = {
  [JmpOp.BPF_JEQ]: '==',
  [JmpOp.BPF_JGT]: '>',
  [JmpOp.BPF_JGE]: '>=',
  [JmpOp.BPF_JSET]: '&',
  [JmpOp.BPF_JNE]: '!=',
  [JmpOp.BPF_JSGT]: 's>',
  [JmpOp.BPF_JSGE]: 's>=',
  [JmpOp.BPF_JLT]: '<',
  [JmpOp.BPF_JLE]: '<=',
  [JmpOp.BPF_JSLT]: 's<',
  [JmpOp.BPF_JSLE]: 's<=',
};
const TYPE: Record<number, string> = { 0x00: 'u32', 0x08: 'u16', 0x10: 'u8', 0x18: 'u64' };
const STYPE: Record<number, string> = { 0x00: 's32', 0x08: 's16', 0x10: 's8' };
const ATOMIC_SYM: Record<string, string> = { add: '+=', or: '|=', and: '&=', xor: '^=' };

/** The kernel's ALU and jump symbols, for the assembler's kernel-syntax parser. */
export const kernelSymbols = { alu: ALU_SYM, jmp: JMP_SYM, type: TYPE, stype: STYPE, atomic: ATOMIC_SYM } as const;

const sgn = (n: number) => (n < 0 ? `${n}` : `+${n}`);
const mem = (t: string, r: number, off: number) => `*(${t} *)(r${r} ${sgn(off)})`;
const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

/**
 * disassemble prints one instruction the way the kernel's verifier log and
 * `bpftool prog dump xlated` print it: `r0 = *(u32 *)(r1 +4)`, `if r1 > r2 goto pc+3`,
 * `w0 += 1`, `lock *(u64 *)(r10 -8) += r1`, `r1 = 0x1122334455667788 ll`.
 */
export function disassemble(i: Instruction): string {
  const cls = opClass(i.opcode);
  const op = i.opcode & 0xf0;
  const x = (i.opcode & Source.BPF_X) !== 0;
  const imm = Number(BigInt.asIntN(32, i.imm));
  switch (cls) {
    case Class.BPF_ALU:
    case Class.BPF_ALU64: {
      const r = cls === Class.BPF_ALU64 ? 'r' : 'w';
      if (op === AluOp.BPF_NEG) return `${r}${i.dst} = -${r}${i.dst}`;
      if (op === AluOp.BPF_END) {
        const kind = cls === Class.BPF_ALU64 ? 'bswap' : x ? 'be' : 'le';
        return `r${i.dst} = ${kind}${imm} r${i.dst}`;
      }
      if (op === AluOp.BPF_MOV && x && i.offset !== 0) return `${r}${i.dst} = (s${i.offset})${r}${i.src}`;
      const sym = (i.offset === 1 ? 's' : '') + ALU_SYM[op];
      return `${r}${i.dst} ${sym} ${x ? `${r}${i.src}` : imm}`;
    }
    case Class.BPF_JMP:
    case Class.BPF_JMP32: {
      if (op === JmpOp.BPF_EXIT) return 'exit';
      if (op === JmpOp.BPF_CALL) {
        if (x) return `callx r${i.dst}`;
        if (i.src === Pseudo.BPF_PSEUDO_CALL) return `call pc${sgn(imm)}`;
        if (i.src === Pseudo.BPF_PSEUDO_KFUNC_CALL) return `call kernel-function#${imm}`;
        const name = helperName(imm);
        return name ? `call ${name}#${imm}` : `call ${imm}`;
      }
      // the kernel's print_bpf_insn: `may_goto pc+3`
      if (op === JmpOp.BPF_JCOND) return `may_goto pc${sgn(i.offset)}`;
      if (op === JmpOp.BPF_JA) return cls === Class.BPF_JMP ? `goto pc${sgn(i.offset)}` : `gotol pc${sgn(imm)}`;
      const r = cls === Class.BPF_JMP ? 'r' : 'w';
      return `if ${r}${i.dst} ${JMP_SYM[op]} ${x ? `${r}${i.src}` : hex(imm)} goto pc${sgn(i.offset)}`;
    }
    case Class.BPF_LDX: {
      const sx = (i.opcode & 0xe0) === Mode.BPF_MEMSX;
      return `r${i.dst} = ${mem((sx ? STYPE : TYPE)[i.opcode & 0x18], i.src, i.offset)}`;
    }
    case Class.BPF_ST:
      return `${mem(TYPE[i.opcode & 0x18], i.dst, i.offset)} = ${imm}`;
    case Class.BPF_STX: {
      const t = TYPE[i.opcode & 0x18];
      if ((i.opcode & 0xe0) !== Mode.BPF_ATOMIC) return `${mem(t, i.dst, i.offset)} = r${i.src}`;
      return atomic(i, t, imm);
    }
    default:
      return ld(i, imm);
  }
}

function atomic(i: Instruction, t: string, code: number): string {
  const a = atomicOps.get(code);
  const w = t === 'u64';
  const r = w ? 'r' : 'w';
  const ptr = `(${t} *)(r${i.dst} ${sgn(i.offset)})`;
  if (!a) return `invalid atomic ${code}`;
  if (a.name === 'cmpxchg') return `r0 = atomic${w ? '64' : ''}_cmpxchg(${ptr}, r0, ${r}${i.src})`;
  if (a.name === 'xchg') return `${r}${i.src} = atomic${w ? '64' : ''}_xchg(${ptr}, ${r}${i.src})`;
  if (a.fetch) return `${r}${i.src} = atomic${w ? '64' : ''}_fetch_${a.name}(${ptr}, ${r}${i.src})`;
  return `lock *${ptr} ${ATOMIC_SYM[a.name]} ${r}${i.src}`;
}

function ld(i: Instruction, imm: number): string {
  const mode = i.opcode & 0xe0;
  const t = TYPE[i.opcode & 0x18];
  if (mode === Mode.BPF_ABS) return `r0 = *(${t} *)skb[${imm}]`;
  if (mode === Mode.BPF_IND) return `r0 = *(${t} *)skb[r${i.src} ${sgn(imm)}]`;
  const lo = Number(BigInt.asUintN(32, i.imm));
  const hi = Number(BigInt.asUintN(32, i.imm >> 32n));
  switch (i.src) {
    case Pseudo.BPF_PSEUDO_MAP_FD:
      return `r${i.dst} = map[fd:${lo}] ll`;
    case Pseudo.BPF_PSEUDO_MAP_VALUE:
      return `r${i.dst} = map[fd:${lo}][0]+${hi} ll`;
    case Pseudo.BPF_PSEUDO_BTF_ID:
      return `r${i.dst} = btf_id[${lo}]${hi ? `[fd:${hi}]` : ''} ll`;
    case Pseudo.BPF_PSEUDO_FUNC:
      return `r${i.dst} = func[pc${sgn(lo | 0)}] ll`;
    case Pseudo.BPF_PSEUDO_MAP_IDX:
      return `r${i.dst} = map[idx:${lo}] ll`;
    case Pseudo.BPF_PSEUDO_MAP_IDX_VALUE:
      return `r${i.dst} = map[idx:${lo}][0]+${hi} ll`;
  }
  return `r${i.dst} = 0x${BigInt.asUintN(64, i.imm).toString(16)} ll`;
}

/**
 * listing prints a program as `bpftool prog dump xlated` does: one line per instruction,
 * its slot index and opcode, e.g. `   0: (b7) r0 = 0`.
 */
export function listing(insns: readonly Instruction[]): string {
  const lines: string[] = [];
  let slot = 0;
  for (const i of insns) {
    lines.push(`${String(slot).padStart(4)}: (${i.opcode.toString(16).padStart(2, '0')}) ${disassemble(i)}`);
    slot += width(i);
  }
  return lines.join('\n');
}
