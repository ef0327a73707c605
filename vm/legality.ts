import { InstructionError } from './errors.js';
import type { Instruction } from './instruction.js';
import { AluOp, Class, JmpOp, Mode, Size, Source, aluOpByName, atomicOps, jmpOpByName } from './opcodes.js';

/** What a field of an instruction may hold: zero, anything, a register, or one of a set. */
type Field = 'zero' | 'any' | 'reg' | readonly number[];

/**
 * Rule is one row of the legality table: the opcode's name and what each field may hold.
 * `dst` says how the destination register is used: written (r10 refused), read, or unused.
 */
export interface Rule {
  readonly name: string;
  readonly dst: 'write' | 'read' | 'zero';
  readonly src: Field;
  readonly off: Field;
  readonly imm: Field;
}

const ALU_NAMES: Record<number, string> = Object.fromEntries(Object.entries(aluOpByName).map(([n, op]) => [op, n]));
const JMP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(jmpOpByName).map(([n, op]) => [op, n]));

const SIZE_NAMES: Record<number, string> = { [Size.BPF_W]: 'w', [Size.BPF_H]: 'h', [Size.BPF_B]: 'b', [Size.BPF_DW]: 'dw' };
const BIT_WIDTHS = [16, 32, 64] as const;
const ATOMIC_IMMS = [...atomicOps.keys()];

function buildTable(): ReadonlyMap<number, Rule> {
  const t = new Map<number, Rule>();
  const row = (opcode: number, rule: Rule) => t.set(opcode, Object.freeze(rule));

  for (const cls of [Class.BPF_ALU, Class.BPF_ALU64]) {
    const suffix = cls === Class.BPF_ALU ? '32' : '64';
    for (const [opStr, base] of Object.entries(ALU_NAMES)) {
      const op = Number(opStr);
      const name = base + suffix;
      if (op === AluOp.BPF_NEG) {
        row(cls | op | Source.BPF_K, { name, dst: 'write', src: 'zero', off: 'zero', imm: 'zero' });
      } else if (op === AluOp.BPF_END) {
        if (cls === Class.BPF_ALU) {
          row(cls | op | Source.BPF_K, { name: 'le', dst: 'write', src: 'zero', off: 'zero', imm: BIT_WIDTHS });
          row(cls | op | Source.BPF_X, { name: 'be', dst: 'write', src: 'zero', off: 'zero', imm: BIT_WIDTHS });
        } else {
          row(cls | op | Source.BPF_K, { name: 'bswap', dst: 'write', src: 'zero', off: 'zero', imm: BIT_WIDTHS });
        }
      } else {
        const signedOff: Field = op === AluOp.BPF_DIV || op === AluOp.BPF_MOD ? [0, 1] : 'zero';
        const movsxOff: Field = cls === Class.BPF_ALU64 ? [0, 8, 16, 32] : [0, 8, 16];
        row(cls | op | Source.BPF_K, { name, dst: 'write', src: 'zero', off: signedOff, imm: 'any' });
        row(cls | op | Source.BPF_X, { name, dst: 'write', src: 'reg', off: op === AluOp.BPF_MOV ? movsxOff : signedOff, imm: 'zero' });
      }
    }
  }

  for (const cls of [Class.BPF_JMP, Class.BPF_JMP32]) {
    const suffix = cls === Class.BPF_JMP32 ? '32' : '';
    for (const [opStr, base] of Object.entries(JMP_NAMES)) {
      const op = Number(opStr);
      if (op === JmpOp.BPF_JA) {
        // JMP|JA uses the offset; JMP32|JA ("gotol") uses the 32-bit imm.
        row(
          cls | op,
          cls === Class.BPF_JMP
            ? { name: 'ja', dst: 'zero', src: 'zero', off: 'any', imm: 'zero' }
            : { name: 'gotol', dst: 'zero', src: 'zero', off: 'zero', imm: 'any' },
        );
      } else if (op === JmpOp.BPF_CALL || op === JmpOp.BPF_EXIT) {
        if (cls !== Class.BPF_JMP) continue;
        if (op === JmpOp.BPF_EXIT) {
          row(cls | op, { name: 'exit', dst: 'zero', src: 'zero', off: 'zero', imm: 'zero' });
        } else {
          row(cls | op | Source.BPF_K, { name: 'call', dst: 'zero', src: [0, 1, 2], off: 'zero', imm: 'any' });
          row(cls | op | Source.BPF_X, { name: 'callx', dst: 'read', src: 'zero', off: 'zero', imm: 'zero' });
        }
      } else {
        row(cls | op | Source.BPF_K, { name: base + suffix, dst: 'read', src: 'zero', off: 'any', imm: 'any' });
        row(cls | op | Source.BPF_X, { name: base + suffix, dst: 'read', src: 'reg', off: 'any', imm: 'zero' });
      }
    }
  }

  // may_goto: the only BPF_JCOND instruction (JMP, K form); its offset may be 0
  row(Class.BPF_JMP | JmpOp.BPF_JCOND | Source.BPF_K, { name: 'may_goto', dst: 'zero', src: [0], off: 'any', imm: 'zero' });

  row(Class.BPF_LD | Mode.BPF_IMM | Size.BPF_DW, { name: 'lddw', dst: 'write', src: [0, 1, 2, 3, 4, 5, 6], off: 'zero', imm: 'any' });
  for (const size of [Size.BPF_W, Size.BPF_H, Size.BPF_B]) {
    const s = SIZE_NAMES[size];
    row(Class.BPF_LD | Mode.BPF_ABS | size, { name: `ldabs${s}`, dst: 'zero', src: 'zero', off: 'zero', imm: 'any' });
    row(Class.BPF_LD | Mode.BPF_IND | size, { name: `ldind${s}`, dst: 'zero', src: 'reg', off: 'zero', imm: 'any' });
    row(Class.BPF_LDX | Mode.BPF_MEMSX | size, { name: `ldxs${s}`, dst: 'write', src: 'reg', off: 'any', imm: 'zero' });
  }
  for (const size of [Size.BPF_W, Size.BPF_H, Size.BPF_B, Size.BPF_DW]) {
    const s = SIZE_NAMES[size];
    row(Class.BPF_LDX | Mode.BPF_MEM | size, { name: `ldx${s}`, dst: 'write', src: 'reg', off: 'any', imm: 'zero' });
    row(Class.BPF_ST | Mode.BPF_MEM | size, { name: `st${s}`, dst: 'read', src: 'zero', off: 'any', imm: 'any' });
    row(Class.BPF_STX | Mode.BPF_MEM | size, { name: `stx${s}`, dst: 'read', src: 'reg', off: 'any', imm: 'zero' });
  }
  for (const size of [Size.BPF_W, Size.BPF_DW]) {
    row(Class.BPF_STX | Mode.BPF_ATOMIC | size, {
      name: size === Size.BPF_W ? 'atomic32' : 'atomic64',
      dst: 'read',
      src: 'reg',
      off: 'any',
      imm: ATOMIC_IMMS,
    });
  }
  return t;
}

/** legalityTable maps every legal opcode to the rule for its other fields. */
export const legalityTable: ReadonlyMap<number, Rule> = buildTable();

/** lddw pseudo sources whose second slot's imm must be 0 (MAP_FD, FUNC, MAP_IDX). */
const HI_MUST_BE_ZERO = new Set([1, 4, 5]);

/** MAX_BPF_REG: r0..r10. */
export const MAX_BPF_REG = 11;

function fieldOk(f: Field, v: number): boolean {
  if (f === 'any') return true;
  if (f === 'zero') return v === 0;
  if (f === 'reg') return v < MAX_BPF_REG;
  return f.includes(v);
}

/**
 * checkLegal throws an InstructionError naming `index` when an instruction has an unknown
 * opcode, a reserved field set, an invalid register, or writes the read-only frame pointer.
 */
export function checkLegal(i: Instruction, index: number): Rule {
  const rule = legalityTable.get(i.opcode);
  const hex = `0x${i.opcode.toString(16).padStart(2, '0')}`;
  if (!rule) throw new InstructionError(index, `unknown opcode ${hex}`);
  const imm = Number(BigInt.asIntN(32, i.imm));
  if (i.dst >= MAX_BPF_REG) throw new InstructionError(index, `invalid dst register r${i.dst} in ${rule.name} (${hex})`);
  if (rule.dst === 'zero' && i.dst !== 0)
    throw new InstructionError(index, `reserved dst field is ${i.dst} in ${rule.name} (${hex}), must be 0`);
  if (rule.dst === 'write' && i.dst === 10) throw new InstructionError(index, `frame pointer r10 is read only (${rule.name})`);
  if (rule.src === 'reg' && i.src >= MAX_BPF_REG)
    throw new InstructionError(index, `invalid src register r${i.src} in ${rule.name} (${hex})`);
  if (!fieldOk(rule.src, i.src)) throw new InstructionError(index, `invalid src field ${i.src} in ${rule.name} (${hex})`);
  if (!fieldOk(rule.off, i.offset)) throw new InstructionError(index, `invalid offset ${i.offset} in ${rule.name} (${hex})`);
  if (rule.name !== 'lddw' && !fieldOk(rule.imm, imm)) throw new InstructionError(index, `invalid imm ${imm} in ${rule.name} (${hex})`);
  if (rule.name === 'lddw' && HI_MUST_BE_ZERO.has(i.src) && i.imm >> 32n !== 0n) {
    throw new InstructionError(index, `unrecognized bpf_ld_imm64 insn: pseudo source ${i.src} takes no second immediate`);
  }
  return rule;
}
