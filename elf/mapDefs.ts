import { MapType } from '../uapi/mapType.js';
import { PAGE_SIZE } from '../vm/memory.js';
import type { MapSpec } from '../maps/spec.js';
import { type Btf, sectionVars, typeDesc } from './btf.js';
import { Kind } from '../uapi/btf.js';
import type { TypeDesc } from '../maps/typeDesc.js';
import { ElfError } from './elfError.js';
import type { ElfFile, Section } from './elfFile.js';

/** LIBBPF_PIN_BY_NAME: the `pinning` value that pins a map under its name. */
export const LIBBPF_PIN_BY_NAME = 1;

/**
 * MapDef is a map the object defines: its spec, where it sits in its section (relocations
 * name maps by that position), how libbpf pins it, its inner map template, the initial
 * contents of an internal (global data) map, and initial slots (`values`): slot index to
 * the symbol (program or map) the object puts there.
 */
export interface MapDef {
  readonly name: string;
  readonly spec: MapSpec;
  readonly section: string;
  readonly offset: number;
  readonly size: number;
  readonly pinning: number;
  readonly inner?: MapDef;
  readonly initial?: Uint8Array;
  readonly slots: ReadonlyMap<number, string>;
  /** For internal maps: the ELF section, and frozen after load (`.rodata`). */
  readonly internal?: { readonly elfSection: string; readonly readOnly: boolean };
}

/** parseBtfMapStruct reads a `struct { __uint(type, …); __type(key, …); … }` map definition. */
function parseBtfMapStruct(
  btf: Btf,
  structId: number,
  name: string,
  where: string,
): { spec: MapSpec; pinning: number; valuesOff?: number; inner?: MapDef } {
  const st = btf.skipModifiers(structId);
  if (st.kind !== Kind.STRUCT) throw new ElfError(`map ${name}: definition is not a struct`, { section: where });
  let type = 0,
    keySize = 0,
    valueSize = 0,
    maxEntries = 0,
    flags = 0,
    pinning = 0,
    mapExtra = 0;
  let valuesOff: number | undefined;
  let inner: MapDef | undefined;
  let keyType: TypeDesc | undefined;
  let valueType: TypeDesc | undefined;
  const uintOf = (t: number, member: string) => {
    const p = btf.skipModifiers(t);
    const arr = p.kind === Kind.PTR ? btf.skipModifiers(p.type) : undefined;
    if (!arr || arr.kind !== Kind.ARRAY) throw new ElfError(`map ${name}: ${member} is not __uint()`, { section: where });
    return arr.nelems!;
  };
  // libbpf's get_map_field_long: __uint(name, N) or __ulong(name, N), an enum of one value (64 bits with ENUM64)
  const longOf = (t: number, member: string) => {
    const e = btf.skipModifiers(t);
    if ((e.kind === Kind.ENUM || e.kind === Kind.ENUM64) && e.members?.length === 1)
      return e.kind === Kind.ENUM ? e.members[0].offset >>> 0 : e.members[0].offset;
    return uintOf(t, member);
  };
  const pointee = (t: number, member: string) => {
    const p = btf.skipModifiers(t);
    if (p.kind !== Kind.PTR) throw new ElfError(`map ${name}: ${member} is not __type()`, { section: where });
    return btf.sizeOf(p.type);
  };
  for (const m of st.members) {
    switch (m.name) {
      case 'type':
        type = uintOf(m.type, m.name);
        break;
      case 'max_entries':
        maxEntries = uintOf(m.type, m.name);
        break;
      case 'map_flags':
        flags = uintOf(m.type, m.name);
        break;
      case 'key_size':
        keySize = uintOf(m.type, m.name);
        break;
      case 'value_size':
        valueSize = uintOf(m.type, m.name);
        break;
      case 'pinning':
        pinning = uintOf(m.type, m.name);
        break;
      case 'map_extra':
        mapExtra = longOf(m.type, m.name);
        break;
      case 'numa_node':
        break;
      case 'key':
        keySize = pointee(m.type, m.name);
        keyType = typeDesc(btf, btf.skipModifiers(m.type).type);
        break;
      case 'value':
        valueSize = pointee(m.type, m.name);
        valueType = typeDesc(btf, btf.skipModifiers(m.type).type);
        break;
      case 'values': {
        valuesOff = m.offset / 8;
        const arr = btf.skipModifiers(m.type);
        const ptr = arr.kind === Kind.ARRAY ? btf.skipModifiers(arr.elem!) : undefined;
        const target = ptr && ptr.kind === Kind.PTR ? btf.skipModifiers(ptr.type) : undefined;
        if (!target) throw new ElfError(`map ${name}: values is not __array()`, { section: where });
        if (target.kind === Kind.STRUCT) {
          const i = parseBtfMapStruct(btf, target.id, `${name}.inner`, where);
          inner = { name: `${name}.inner`, spec: i.spec, section: where, offset: 0, size: 0, pinning: 0, slots: new Map() };
        }
        keySize ||= 4;
        valueSize ||= 4;
        break;
      }
      default:
        throw new ElfError(`map ${name}: unknown attribute ${m.name}`, { section: where });
    }
  }
  if (type === MapType.BPF_MAP_TYPE_RINGBUF || type === MapType.BPF_MAP_TYPE_USER_RINGBUF) {
    keySize = valueSize = 0;
    maxEntries = adjustRingbufSize(maxEntries);
  }
  const btfDesc = keyType || valueType ? { key: keyType, value: valueType } : undefined;
  return {
    spec: { type, keySize, valueSize, maxEntries, flags, name: name.slice(0, 15), mapExtra, innerMap: inner?.spec, btf: btfDesc },
    pinning,
    valuesOff,
    inner,
  };
}

/**
 * adjustRingbufSize: libbpf's adjust_ringbuf_sz: a ring buffer's size is made the smallest
 * power-of-2 multiple of the page size above what the object asked for (`max_entries 8`
 * becomes 4096), as the kernel requires; 0 and sizes already right pass through.
 */
export function adjustRingbufSize(sz: number): number {
  if (sz === 0 || (sz % PAGE_SIZE === 0 && ((sz / PAGE_SIZE) & (sz / PAGE_SIZE - 1)) === 0)) return sz;
  for (let mul = 1; mul <= Math.floor(0xffffffff / PAGE_SIZE); mul *= 2) if (mul * PAGE_SIZE > sz) return mul * PAGE_SIZE;
  return sz;
}

/** btfMaps reads the BTF-defined maps of the `.maps` section, with their initial `values`. */
export function btfMaps(elf: ElfFile, btf: Btf | undefined, sec: Section): MapDef[] {
  if (!btf) throw new ElfError('BTF-defined maps need a .BTF section (compile with -g)', { section: sec.name });
  if (!btf.datasec(sec.name)) throw new ElfError('no DATASEC describes the maps', { section: sec.name });
  const relocs = elf.relocations(sec.index);
  return sectionVars(btf, sec.name, elf.symbols, sec.index).map((v) => {
    const parsed = parseBtfMapStruct(btf, v.type, v.name, sec.name);
    const slots = new Map<number, string>();
    if (parsed.valuesOff !== undefined) {
      for (const r of relocs) {
        if (r.offset < v.offset + parsed.valuesOff || r.offset >= v.offset + v.size) continue;
        slots.set((r.offset - v.offset - parsed.valuesOff) / 8, r.symbol.name);
      }
    }
    return {
      name: v.name,
      spec: parsed.spec,
      section: sec.name,
      offset: v.offset,
      size: v.size,
      pinning: parsed.pinning,
      inner: parsed.inner,
      slots,
    };
  });
}

/**
 * legacyMaps reads a `maps` section of `struct bpf_map_def` records (type, key_size,
 * value_size, max_entries, map_flags, …), one per symbol; the record size is the section
 * size divided by the number of maps, as libbpf once computed it.
 */
export function legacyMaps(elf: ElfFile, sec: Section): MapDef[] {
  const syms = elf.symbols.filter((s) => s.shndx === sec.index && s.name !== '' && s.type !== 3).sort((a, b) => a.value - b.value);
  if (syms.length === 0) return [];
  const recSize = Math.floor(sec.size / syms.length);
  if (recSize < 20) throw new ElfError(`map records of ${recSize} bytes are shorter than struct bpf_map_def`, { section: sec.name });
  const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  return syms.map((s) => {
    if (s.value + 20 > sec.size) throw new ElfError(`map ${s.name} runs past the end`, { section: sec.name, offset: s.value });
    const u = (i: number) => dv.getUint32(s.value + 4 * i, true);
    return {
      name: s.name,
      section: sec.name,
      offset: s.value,
      size: recSize,
      pinning: 0,
      slots: new Map(),
      spec: { type: u(0), keySize: u(1), valueSize: u(2), maxEntries: u(3), flags: u(4), name: s.name.slice(0, 15) },
    };
  });
}
