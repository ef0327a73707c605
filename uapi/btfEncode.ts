import { Kind } from './btf.js';

/**
 * BtfRecord is one BTF type as plain data, the way `bpftool btf dump format raw` prints it:
 * a kind, a name, and what the kind refers to by type id (0 is void).
 */
export type BtfRecord =
  | { readonly kind: 'INT'; readonly name: string; readonly size: number; readonly signed?: boolean; readonly char?: boolean }
  | { readonly kind: 'PTR' | 'CONST' | 'VOLATILE'; readonly type: number }
  | { readonly kind: 'TYPEDEF'; readonly name: string; readonly type: number }
  | { readonly kind: 'ARRAY'; readonly elem: number; readonly index: number; readonly n: number }
  | {
      readonly kind: 'STRUCT' | 'UNION';
      readonly name: string;
      readonly size: number;
      readonly members: readonly { readonly name: string; readonly type: number; readonly bitOffset: number }[];
    }
  | { readonly kind: 'ENUM'; readonly name: string; readonly size: number; readonly values: readonly (readonly [string, number])[] }
  | { readonly kind: 'FWD'; readonly name: string; readonly union?: boolean }
  | { readonly kind: 'FUNC_PROTO'; readonly ret: number; readonly params: readonly { readonly name: string; readonly type: number }[] };

/** BTF_MAGIC, and the header's length (struct btf_header: magic, version, flags, hdr_len, type/str offsets and lengths). */
const BTF_MAGIC = 0xeb9f;
const BTF_HDR_LEN = 24;

/** BTF_INT_SIGNED / BTF_INT_CHAR: the encoding bits of an INT's extra word (include/uapi/linux/btf.h). */
const BTF_INT_SIGNED = 1 << 0;
const BTF_INT_CHAR = 1 << 1;

/**
 * encodeBtf writes `types` (ids 1, 2, … in order) in the kernel's binary BTF format:
 *
 *   +--------------+-------------------------------------+------------------------+
 *   | btf_header   | struct btf_type records (+ extras)  | strings, "\0" first    |
 *   | 24 bytes     | type_off 0, type_len                | str_off = type_len     |
 *   +--------------+-------------------------------------+------------------------+
 *
 * Each record is name_off, info (vlen | kind << 24 | kind_flag << 31), size-or-type, then the
 * kind's extra words (btf_member, btf_param, btf_enum, btf_array, the INT encoding).
 */
export function encodeBtf(types: readonly BtfRecord[]): Uint8Array {
  const strings: number[] = [0];
  const offsets = new Map<string, number>([['', 0]]);
  const str = (s: string): number => {
    let off = offsets.get(s);
    if (off === undefined) {
      off = strings.length;
      offsets.set(s, off);
      strings.push(...new TextEncoder().encode(s), 0);
    }
    return off;
  };
  const words: number[] = [];
  const head = (name: string, kind: number, vlen: number, sizeOrType: number, kindFlag = 0) =>
    words.push(str(name), (vlen | (kind << 24) | (kindFlag << 31)) >>> 0, sizeOrType >>> 0);
  for (const t of types) {
    switch (t.kind) {
      case 'INT':
        head(t.name, Kind.INT, 0, t.size);
        words.push(((t.signed ? BTF_INT_SIGNED : 0) | (t.char ? BTF_INT_CHAR : 0)) * 2 ** 24 + t.size * 8);
        break;
      case 'PTR':
        head('', Kind.PTR, 0, t.type);
        break;
      case 'CONST':
        head('', Kind.CONST, 0, t.type);
        break;
      case 'VOLATILE':
        head('', Kind.VOLATILE, 0, t.type);
        break;
      case 'TYPEDEF':
        head(t.name, Kind.TYPEDEF, 0, t.type);
        break;
      case 'ARRAY':
        head('', Kind.ARRAY, 0, 0);
        words.push(t.elem, t.index, t.n);
        break;
      case 'STRUCT':
      case 'UNION':
        head(t.name, t.kind === 'STRUCT' ? Kind.STRUCT : Kind.UNION, t.members.length, t.size);
        for (const m of t.members) words.push(str(m.name), m.type, m.bitOffset);
        break;
      case 'ENUM':
        head(t.name, Kind.ENUM, t.values.length, t.size);
        for (const [name, value] of t.values) words.push(str(name), value >>> 0);
        break;
      case 'FWD':
        head(t.name, Kind.FWD, 0, 0, t.union ? 1 : 0);
        break;
      case 'FUNC_PROTO':
        head('', Kind.FUNC_PROTO, t.params.length, t.ret);
        for (const p of t.params) words.push(str(p.name), p.type);
        break;
    }
  }
  const typeLen = words.length * 4;
  const out = new Uint8Array(BTF_HDR_LEN + typeLen + strings.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, BTF_MAGIC, true);
  out[2] = 1; // version
  dv.setUint32(4, BTF_HDR_LEN, true);
  dv.setUint32(8, 0, true);
  dv.setUint32(12, typeLen, true);
  dv.setUint32(16, typeLen, true);
  dv.setUint32(20, strings.length, true);
  words.forEach((w, i) => dv.setUint32(BTF_HDR_LEN + 4 * i, w, true));
  out.set(strings, BTF_HDR_LEN + typeLen);
  return out;
}
