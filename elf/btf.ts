import type { TypeDesc } from '../maps/typeDesc.js';
import { ElfError } from './elfError.js';
import { Kind } from '../uapi/btf.js';

/** Member is a struct/union member, a func_proto parameter, or a datasec variable. */
export interface Member {
  readonly name: string;
  /** The member's type id (a datasec entry's variable). */
  readonly type: number;
  /** Bit offset for members, byte offset for datasec entries. */
  readonly offset: number;
  /** Size in bytes, for datasec entries. */
  readonly size: number;
  /** A struct member's bitfield size (BTF_MEMBER_BITFIELD_SIZE, kind_flag set), 0 otherwise. */
  readonly bitSize?: number;
}

/** BtfType is one type of a BTF blob. `type` is the referenced type or the size, by kind. */
export interface BtfType {
  readonly id: number;
  readonly kind: number;
  readonly name: string;
  readonly size: number;
  readonly type: number;
  readonly members: readonly Member[];
  /** ARRAY: element type and count; INT: bit size and signedness. */
  readonly elem?: number;
  readonly nelems?: number;
  readonly intBits?: number;
  readonly signed?: boolean;
  /** FUNC: its linkage (BTF_FUNC_STATIC 0, BTF_FUNC_GLOBAL 1, BTF_FUNC_EXTERN 2). */
  readonly linkage?: number;
  /** DECL_TAG: the argument it tags (-1: the whole declaration); `type` is the tagged declaration. */
  readonly componentIdx?: number;
  /** The info word's kind_flag (ENUM: signed values; STRUCT/UNION: bitfield sizes in member offsets). */
  readonly kflag?: boolean;
  /** INT: the encoding's bit offset (BTF_INT_OFFSET, 0 in what clang emits). */
  readonly intOffset?: number;
}

const SIZED: readonly number[] = [Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.DATASEC, Kind.FLOAT, Kind.ENUM64];

/**
 * Btf is a parsed `.BTF` section: the types (id 0 is void) and their names, with the helpers
 * the loader needs (sizes, modifiers skipped, DATASEC variables).
 */
export class Btf {
  readonly types: readonly BtfType[];
  readonly strings: Uint8Array;

  constructor(data: Uint8Array, section = '.BTF') {
    const fail = (detail: string, offset: number): never => {
      throw new ElfError(`BTF: ${detail}`, { section, offset });
    };
    if (data.length < 24) fail('shorter than its header', 0);
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (dv.getUint16(0, true) !== 0xeb9f) fail(`bad magic 0x${dv.getUint16(0, true).toString(16)}`, 0);
    const hdrLen = dv.getUint32(4, true);
    const typeOff = dv.getUint32(8, true);
    const typeLen = dv.getUint32(12, true);
    const strOff = dv.getUint32(16, true);
    const strLen = dv.getUint32(20, true);
    const tStart = hdrLen + typeOff;
    const sStart = hdrLen + strOff;
    if (tStart + typeLen > data.length) fail('type section runs past the end', 12);
    if (sStart + strLen > data.length) fail('string section runs past the end', 20);
    this.strings = data.subarray(sStart, sStart + strLen);
    const str = (off: number, at: number) => {
      if (off >= strLen && off !== 0) fail(`string offset ${off} past the string section`, at);
      let end = off;
      while (end < this.strings.length && this.strings[end] !== 0) end++;
      return new TextDecoder().decode(this.strings.subarray(off, end));
    };
    const types: BtfType[] = [{ id: 0, kind: Kind.UNKN, name: 'void', size: 0, type: 0, members: [] }];
    let p = tStart;
    const end = tStart + typeLen;
    while (p < end) {
      if (p + 12 > end) fail('truncated type', p);
      const at = p;
      const nameOff = dv.getUint32(p, true);
      const info = dv.getUint32(p + 4, true);
      const sizeOrType = dv.getUint32(p + 8, true);
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      p += 12;
      const id = types.length;
      const base = {
        id,
        kind,
        name: str(nameOff, at),
        size: SIZED.includes(kind) ? sizeOrType : 0,
        type: SIZED.includes(kind) ? 0 : sizeOrType,
        ...(info >>> 31 ? { kflag: true } : {}),
      };
      const need = (n: number) => {
        if (p + n > end) fail(`type ${id} runs past the type section`, at);
      };
      switch (kind) {
        case Kind.INT: {
          need(4);
          const enc = dv.getUint32(p, true);
          p += 4;
          types.push({ ...base, members: [], intBits: enc & 0xff, signed: ((enc >>> 24) & 1) === 1, intOffset: (enc >>> 16) & 0xff });
          break;
        }
        case Kind.ARRAY: {
          need(12);
          types.push({ ...base, members: [], elem: dv.getUint32(p, true), nelems: dv.getUint32(p + 8, true) });
          p += 12;
          break;
        }
        case Kind.STRUCT:
        case Kind.UNION: {
          need(12 * vlen);
          const members: Member[] = [];
          for (let i = 0; i < vlen; i++, p += 12) {
            const off = dv.getUint32(p + 8, true);
            members.push({
              name: str(dv.getUint32(p, true), p),
              type: dv.getUint32(p + 4, true),
              offset: info >>> 31 ? off & 0xffffff : off,
              size: 0,
              ...(info >>> 31 && off >>> 24 ? { bitSize: off >>> 24 } : {}),
            });
          }
          types.push({ ...base, members });
          break;
        }
        case Kind.ENUM: {
          need(8 * vlen);
          const members: Member[] = [];
          for (let i = 0; i < vlen; i++, p += 8)
            members.push({ name: str(dv.getUint32(p, true), p), type: 0, offset: dv.getInt32(p + 4, true), size: 0 });
          types.push({ ...base, members });
          break;
        }
        case Kind.ENUM64: {
          // btf_enum64: name, then the value's low and high 32 bits (as a number: exact up to 2^53)
          need(12 * vlen);
          const members: Member[] = [];
          for (let i = 0; i < vlen; i++, p += 12) {
            const value = dv.getUint32(p + 4, true) + dv.getUint32(p + 8, true) * 2 ** 32;
            members.push({ name: str(dv.getUint32(p, true), p), type: 0, offset: value, size: 0 });
          }
          types.push({ ...base, members });
          break;
        }
        case Kind.FUNC_PROTO: {
          need(8 * vlen);
          const members: Member[] = [];
          for (let i = 0; i < vlen; i++, p += 8)
            members.push({ name: str(dv.getUint32(p, true), p), type: dv.getUint32(p + 4, true), offset: 0, size: 0 });
          types.push({ ...base, members });
          break;
        }
        case Kind.VAR:
          need(4);
          p += 4;
          types.push({ ...base, members: [] });
          break;
        case Kind.DECL_TAG:
          need(4);
          types.push({ ...base, members: [], componentIdx: dv.getInt32(p, true) });
          p += 4;
          break;
        case Kind.DATASEC: {
          need(12 * vlen);
          const members: Member[] = [];
          for (let i = 0; i < vlen; i++, p += 12) {
            const v = dv.getUint32(p, true);
            members.push({ name: '', type: v, offset: dv.getUint32(p + 4, true), size: dv.getUint32(p + 8, true) });
          }
          types.push({ ...base, members });
          break;
        }
        case Kind.FUNC:
          types.push({ ...base, members: [], linkage: vlen });
          break;
        case Kind.PTR:
        case Kind.FWD:
        case Kind.TYPEDEF:
        case Kind.VOLATILE:
        case Kind.CONST:
        case Kind.RESTRICT:
        case Kind.FLOAT:
        case Kind.TYPE_TAG:
          types.push({ ...base, members: [] });
          break;
        default:
          fail(`type ${id} has unknown kind ${kind}`, at);
      }
    }
    // datasec entries are named after their variables
    this.types = types.map((t) =>
      t.kind === Kind.DATASEC ? { ...t, members: t.members.map((m) => ({ ...m, name: types[m.type]?.name ?? '' })) } : t,
    );
  }

  /** get returns type `id`, or throws naming it. */
  get(id: number): BtfType {
    const t = this.types[id];
    if (!t) throw new ElfError(`BTF: type ${id} does not exist`, { section: '.BTF' });
    return t;
  }

  /** skipModifiers follows typedef, const, volatile, restrict and type tags. */
  skipModifiers(id: number): BtfType {
    let t = this.get(id);
    for (let n = 0; n < 64 && [Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG].includes(t.kind as 8); n++)
      t = this.get(t.type);
    return t;
  }

  /** sizeOf returns the size in bytes of type `id`. */
  sizeOf(id: number): number {
    const t = this.skipModifiers(id);
    if (t.kind === Kind.PTR) return 8;
    if (t.kind === Kind.ARRAY) return (t.nelems ?? 0) * this.sizeOf(t.elem!);
    if (t.kind === Kind.VAR) return this.sizeOf(t.type);
    return t.size;
  }

  /** datasec returns the DATASEC named after an ELF section (`.data`, `.maps`, …). */
  datasec(name: string): BtfType | undefined {
    return this.types.find((t) => t.kind === Kind.DATASEC && t.name === name);
  }

  /** byName returns the first type of a kind with a name. */
  byName(kind: number, name: string): BtfType | undefined {
    return this.types.find((t) => t.kind === kind && t.name === name);
  }
}

/** SectionVar is a variable of a data section with its real offset and size. */
export interface SectionVar {
  readonly name: string;
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}

/**
 * sectionVars lists a section's DATASEC variables with the offsets the ELF symbols give:
 * clang leaves DATASEC offsets at 0 in object files, and libbpf fixes them up the same way.
 */
export function sectionVars(
  btf: Btf,
  section: string,
  symbols: readonly { name: string; value: number; size: number; shndx: number }[],
  shndx: number,
): SectionVar[] {
  const ds = btf.datasec(section);
  if (!ds) return [];
  return ds.members.map((m) => {
    const sym = symbols.find((s) => s.shndx === shndx && s.name === m.name);
    if (!sym) throw new ElfError(`BTF variable ${m.name} has no symbol`, { section });
    return { name: m.name, type: btf.get(m.type).type, offset: sym.value, size: m.size || sym.size };
  });
}

/**
 * typeDesc turns a BTF type into a TypeDesc (plain data a map carries for formatted output).
 * Pointers and functions become raw bytes; depth is bounded against cyclic types.
 */
export function typeDesc(btf: Btf, id: number, depth = 0): TypeDesc {
  const t = btf.skipModifiers(id);
  if (depth > 16) return { k: 'raw', size: btf.sizeOf(id) };
  switch (t.kind) {
    case Kind.INT:
      return { k: 'int', size: t.size, signed: !!t.signed };
    case Kind.ENUM:
      return { k: 'enum', size: t.size, values: t.members.map((m) => [m.name, m.offset] as const) };
    case Kind.ARRAY:
      return { k: 'array', elem: typeDesc(btf, t.elem!, depth + 1), n: t.nelems! };
    case Kind.STRUCT:
    case Kind.UNION:
      return {
        k: 'struct',
        size: t.size,
        ...(t.name ? { name: t.name } : {}),
        members: t.members.map((m) => ({ name: m.name, bitOffset: m.offset, type: typeDesc(btf, m.type, depth + 1) })),
      };
    case Kind.PTR: {
      // btf_find_kptr: a pointer whose first modifier is a type tag `kptr`, `kptr_untrusted` or
      // `percpu_kptr`, to a struct, or its forward declaration (resolved by name, as the kernel does in
      // vmlinux); what any other tag or target is, the kernel refuses at map creation
      const tag = btf.get(t.type);
      const to = btf.skipModifiers(t.type);
      if (tag.kind === Kind.TYPE_TAG && (tag.name === 'kptr' || tag.name === 'kptr_untrusted' || tag.name === 'percpu_kptr'))
        return { k: 'raw', size: 8, kptr: { tag: tag.name, struct: to.kind === Kind.STRUCT || to.kind === Kind.FWD ? to.name : '' } };
      return { k: 'raw', size: 8 };
    }
    default:
      return { k: 'raw', size: btf.sizeOf(id) };
  }
}
