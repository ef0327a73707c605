import { type Formatted, type TypeDesc, formatValue, sizeOfDesc } from '../maps/typeDesc.js';
import { UserError } from '../uapi/userError.js';

/**
 * Typed is a C value as plain JS, as `map dump` shows it (maps/typeDesc.ts formatValue): integers
 * as bigints, structs as objects by member name, arrays as arrays, enums by name. Where a value is
 * given, a number may stand for a bigint and an enum may be given by its value.
 */
export type Typed = Formatted;

/** TypedInput: what encodeValue takes: Typed, with numbers allowed where integers go. */
export type TypedInput = bigint | number | string | Uint8Array | readonly TypedInput[] | { readonly [name: string]: TypedInput };

/** decodeValue reads `bytes` as `t`: the typed rendering `bpfbox map dump` uses. */
export const decodeValue = (t: TypeDesc, bytes: Uint8Array): Typed => formatValue(t, bytes);

/**
 * encodeValue writes `v` as `t` (little-endian), the inverse of decodeValue: a struct's members
 * missing from `v` are zero, a member `v` has that `t` does not is an error naming it.
 */
export function encodeValue(t: TypeDesc, v: TypedInput, where = 'value'): Uint8Array {
  const out = new Uint8Array(sizeOfDesc(t));
  write(t, v, out, 0, where);
  return out;
}

function toBig(v: TypedInput, where: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  throw new UserError(`${where}: ${String(v)} is not an integer`);
}

function writeInt(out: Uint8Array, bitOffset: number, size: number, signed: boolean, v: bigint, where: string): void {
  const bits = BigInt(8 * size);
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (v < min || v > max) throw new UserError(`${where}: ${v} does not fit ${size} byte${size > 1 ? 's' : ''}${signed ? ' (signed)' : ''}`);
  let u = BigInt.asUintN(Number(bits), v);
  for (let i = 0; i < size; i++, u >>= 8n) out[(bitOffset >> 3) + i] = Number(u & 0xffn);
}

function write(t: TypeDesc, v: TypedInput, out: Uint8Array, bitOffset: number, where: string): void {
  switch (t.k) {
    case 'int':
      return writeInt(out, bitOffset, t.size, t.signed, toBig(v, where), where);
    case 'enum': {
      const byName = typeof v === 'string' ? t.values.find(([n]) => n === v) : undefined;
      if (typeof v === 'string' && !byName) throw new UserError(`${where}: ${v} is not a value of the enum`);
      return writeInt(out, bitOffset, t.size, false, byName ? BigInt(byName[1]) : toBig(v, where), where);
    }
    case 'array': {
      if (!Array.isArray(v) && !(v instanceof Uint8Array)) throw new UserError(`${where}: an array of ${t.n} was expected`);
      const items = v as ArrayLike<TypedInput>;
      if (items.length > t.n) throw new UserError(`${where}: ${items.length} elements do not fit ${t.n}`);
      const size = sizeOfDesc(t.elem);
      for (let i = 0; i < items.length; i++) write(t.elem, items[i], out, bitOffset + 8 * size * i, `${where}[${i}]`);
      return;
    }
    case 'struct': {
      if (typeof v !== 'object' || v instanceof Uint8Array || Array.isArray(v)) throw new UserError(`${where}: an object was expected`);
      const o = v as { readonly [name: string]: TypedInput };
      for (const name of Object.keys(o))
        if (!t.members.some((m) => m.name === name))
          throw new UserError(`${where}: ${t.name ? `struct ${t.name}` : 'the struct'} has no member ${name}`);
      for (const m of t.members) {
        if (!(m.name in o)) continue;
        const w = `${where}.${m.name}`;
        if (m.bitSize && m.type.k === 'int') {
          const x = toBig(o[m.name], w);
          if (x < 0n || x >= 1n << BigInt(m.bitSize)) throw new UserError(`${w}: ${x} does not fit ${m.bitSize} bits`);
          for (let b = 0; b < m.bitSize; b++) {
            const bit = bitOffset + m.bitOffset + b;
            const mask = 1 << (bit & 7);
            out[bit >> 3] = (x >> BigInt(b)) & 1n ? out[bit >> 3] | mask : out[bit >> 3] & ~mask;
          }
        } else write(m.type, o[m.name], out, bitOffset + m.bitOffset, w);
      }
      return;
    }
    case 'raw': {
      const bytes = v instanceof Uint8Array ? v : Array.isArray(v) ? Uint8Array.from(v as TypedInput[], (x) => Number(x)) : undefined;
      if (!bytes || bytes.length !== t.size) throw new UserError(`${where}: ${t.size} bytes were expected`);
      out.set(bytes, bitOffset >> 3);
      return;
    }
  }
}
