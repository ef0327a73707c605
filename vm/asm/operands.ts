import { BpfError } from '../errors.js';

/** OperandError: a parse failure inside one line; the assembler wraps it in an AssemblyError naming the line. */
export class OperandError extends BpfError {}

/** Target is a jump or call destination: a label, or a slot offset relative to the next insn. */
export type Target = { readonly label: string } | { readonly relative: number };

/** parseReg reads `%rN`, `rN` or `wN` (N in 0..10). */
export function parseReg(text: string): number {
  const m = /^%?[rw]?(\d+)$/.exec(text.trim());
  if (!m) throw new OperandError(`invalid register '${text.trim()}'`);
  const n = Number(m[1]);
  if (n > 10) throw new OperandError(`invalid register '${text.trim()}'`);
  return n;
}

/** isReg tells whether an operand looks like a register. */
export function isReg(text: string): boolean {
  return /^%?[rw]\d+$/.test(text.trim());
}

function parseInteger(text: string): bigint {
  const t = text.trim();
  if (!/^[+-]?(0x[0-9a-f]+|\d+)$/i.test(t)) throw new OperandError(`invalid number '${t}'`);
  const neg = t.startsWith('-');
  const body = t.replace(/^[+-]/, '');
  const v = BigInt(body);
  return neg ? -v : v;
}

/**
 * parseImm32 reads a 32-bit immediate: decimal in int32 range, or hex up to 0xffffffff
 * (taken as its two's-complement int32), as the conformance assembler accepts them.
 */
export function parseImm32(text: string): number {
  const v = parseInteger(text);
  const hex = /0x/i.test(text);
  const ok = hex ? v >= -0x80000000n && v <= 0xffffffffn : v >= -0x80000000n && v <= 0x7fffffffn;
  if (!ok) throw new OperandError(`immediate ${text.trim()} out of 32-bit range`);
  return Number(BigInt.asIntN(32, v));
}

/** parseImm64 reads a 64-bit immediate (signed or unsigned range). */
export function parseImm64(text: string): bigint {
  const v = parseInteger(text);
  if (v < -(1n << 63n) || v >= 1n << 64n) throw new OperandError(`immediate ${text.trim()} out of 64-bit range`);
  return BigInt.asIntN(64, v);
}

/** parseOffset reads a signed 16-bit offset. */
export function parseOffset(text: string): number {
  const v = parseInteger(text.replace(/\s+/g, ''));
  if (v < -0x8000n || v > 0x7fffn) throw new OperandError(`offset ${text.trim()} out of 16-bit range`);
  return Number(v);
}

/** parseMem reads `[%rN+off]`, `[%rN-off]` or `[%rN]`. */
export function parseMem(text: string): { reg: number; off: number } {
  const m = /^\[\s*(%?r\d+)\s*(?:([+-])\s*(\w+))?\s*\]$/.exec(text.trim());
  if (!m) throw new OperandError(`invalid memory operand '${text.trim()}'`);
  return { reg: parseReg(m[1]), off: m[2] ? parseOffset(m[2] + m[3]) : 0 };
}

/** parseTarget reads a jump target: a label, `+N`, `-N` or `pc+N`. */
export function parseTarget(text: string): Target {
  const t = text.trim();
  const rel = /^(?:pc)?([+-]\s*(?:0x[0-9a-f]+|\d+))$/i.exec(t);
  if (rel) return { relative: Number(parseInteger(rel[1].replace(/\s+/g, ''))) };
  if (!/^[A-Za-z_.][\w.]*$/.test(t)) throw new OperandError(`invalid jump target '${t}'`);
  return { label: t };
}
