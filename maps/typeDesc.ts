/**
 * TypeDesc is a C type as plain data, taken from BTF when an object is loaded, so a map can
 * be shown with typed keys and values (bpftool's "formatted") in any process, pin files
 * included. Offsets are in bits, as BTF gives them.
 */
export type TypeDesc =
  | { readonly k: 'int'; readonly size: number; readonly signed: boolean; readonly bool?: boolean }
  | {
      readonly k: 'struct';
      readonly size: number;
      readonly name?: string;
      readonly members: readonly {
        readonly name: string;
        readonly bitOffset: number;
        readonly bitSize?: number;
        readonly type: TypeDesc;
      }[];
    }
  | { readonly k: 'array'; readonly elem: TypeDesc; readonly n: number }
  | { readonly k: 'enum'; readonly size: number; readonly values: readonly (readonly [string, number])[] }
  /** Bytes shown raw; `kptr` when BTF made them a pointer tagged `__kptr`, `__kptr_untrusted` or `__percpu_kptr` (btf_parse_kptr). */
  | { readonly k: 'raw'; readonly size: number; readonly kptr?: KptrDesc };

/**
 * KptrDesc: a kptr field's BTF_KIND_TYPE_TAG (`kptr` a referenced kptr, `kptr_untrusted` an
 * unreferenced one, `percpu_kptr`) and the name of the struct it points to.
 */
export interface KptrDesc {
  readonly tag: 'kptr' | 'kptr_untrusted' | 'percpu_kptr';
  readonly struct: string;
}

/** MapBtf: the types of a map's key and value, when BTF described them. */
export interface MapBtf {
  readonly key?: TypeDesc;
  readonly value?: TypeDesc;
}

/** Formatted is a typed value: numbers are bigint so that u64s print exactly, as bpftool prints them. */
export type Formatted = bigint | string | Formatted[] | { [name: string]: Formatted };

/** formatValue reads `bytes` (little-endian) as `t`, the way bpftool's BTF dumper shows it. */
export function formatValue(t: TypeDesc, bytes: Uint8Array, bitOffset = 0): Formatted {
  const byteAt = bitOffset >> 3;
  switch (t.k) {
    case 'int': {
      let v = 0n;
      for (let i = t.size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[byteAt + i] ?? 0);
      return t.signed ? BigInt.asIntN(8 * t.size, v) : v;
    }
    case 'enum': {
      let v = 0;
      for (let i = t.size - 1; i >= 0; i--) v = v * 256 + (bytes[byteAt + i] ?? 0);
      return t.values.find(([, x]) => x === v)?.[0] ?? BigInt(v);
    }
    case 'array': {
      const size = sizeOfDesc(t.elem);
      return Array.from({ length: t.n }, (_, i) => formatValue(t.elem, bytes, bitOffset + 8 * size * i));
    }
    case 'struct': {
      const o: { [name: string]: Formatted } = {};
      for (const m of t.members) {
        if (m.bitSize && m.type.k === 'int') {
          let v = 0n;
          for (let b = 0; b < m.bitSize; b++) {
            const bit = bitOffset + m.bitOffset + b;
            v |= BigInt((bytes[bit >> 3] >> (bit & 7)) & 1) << BigInt(b);
          }
          o[m.name] = v;
        } else o[m.name] = formatValue(m.type, bytes, bitOffset + m.bitOffset);
      }
      return o;
    }
    case 'raw':
      return Array.from(bytes.subarray(byteAt, byteAt + t.size), (b) => `0x${b.toString(16).padStart(2, '0')}`);
  }
}

/** sizeOfDesc returns a type's size in bytes. */
export function sizeOfDesc(t: TypeDesc): number {
  return t.k === 'array' ? t.n * sizeOfDesc(t.elem) : t.size;
}

/** toJson prints a value with bigints as exact numbers, compact or indented by `indent` spaces (properties that are undefined left out). */
export function toJson(v: unknown, indent = 0, depth = 0): string {
  const pad = (d: number) => (indent ? '\n' + ' '.repeat(indent * d) : '');
  const sep = indent ? ': ' : ':';
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[${v.map((x) => pad(depth + 1) + toJson(x, indent, depth + 1)).join(',')}${pad(depth)}]`;
  }
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined); // as JSON.stringify leaves them out
    if (entries.length === 0) return '{}';
    return `{${entries.map(([k, x]) => pad(depth + 1) + JSON.stringify(k) + sep + toJson(x, indent, depth + 1)).join(',')}${pad(depth)}}`;
  }
  return JSON.stringify(v);
}
