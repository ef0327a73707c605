import type { GlobalArg } from '../vm/verifier/globalFunc.js';
import { Btf, sectionVars } from './btf.js';
import { Kind } from '../uapi/btf.js';
import { type BtfExt, parseBtfExt } from './btfExt.js';
import { ElfError } from './elfError.js';
import { ElfFile, SHF, STB, STT } from './elfFile.js';
import { globalDataMap, isDataSection } from './globalData.js';
import { type MapDef, btfMaps, legacyMaps } from './mapDefs.js';
import { type ProgramSpec, linkProgram } from './programs.js';
import { progTypeForSection } from './sectionTypes.js';

/**
 * CollectionSpec is a BPF object as plain data (cilium/ebpf's CollectionSpec): its maps
 * (BTF-defined, legacy and global data), its programs linked and ready for map fds, its
 * license and kernel version, and its BTF. Reading it does no I/O and loads nothing.
 */
export interface CollectionSpec {
  readonly name: string;
  readonly maps: readonly MapDef[];
  readonly programs: readonly ProgramSpec[];
  readonly license: string;
  readonly version: number;
  readonly btf?: Btf;
  readonly btfExt?: BtfExt;
  /** C signatures of the functions, by `section:offset` (bpftool prints them in listings). */
  readonly funcs?: ReadonlyMap<string, string>;
  /** The arguments of the global (BTF_FUNC_GLOBAL) functions, by `section:offset`: the verifier checks their calls against them. */
  readonly globalFuncs?: ReadonlyMap<string, readonly GlobalArg[]>;
}

/** ReadOptions: the object's name (libbpf: the file name up to its first dot), knobs, a type override. */
export interface ReadOptions {
  readonly name?: string;
  /** `const volatile` (and other) globals to set before load, by name: `{ blocked_proto: 6 }`. */
  readonly set?: Readonly<Record<string, bigint | number>>;
  /** A program type for every program, whatever its section says (`prog load … type TYPE`). */
  readonly type?: number;
}

/** readCollection parses a clang-compiled BPF object into a CollectionSpec. */
export function readCollection(bytes: Uint8Array, options: ReadOptions = {}): CollectionSpec {
  const elf = new ElfFile(bytes);
  const name = (options.name ?? 'bpf_object').split('.')[0].slice(0, 15);
  const btfSec = elf.section('.BTF');
  const btf = btfSec ? new Btf(btfSec.data) : undefined;
  const extSec = elf.section('.BTF.ext');
  const btfExt = extSec && btf ? parseBtfExt(extSec.data, btf.strings) : undefined;

  const maps: MapDef[] = [];
  for (const s of elf.sections) {
    if (s.name === '.maps') maps.push(...btfMaps(elf, btf, s));
    else if (s.name === 'maps') maps.push(...legacyMaps(elf, s));
    else if (isDataSection(s.name) && s.size > 0) maps.push(globalDataMap(name, s));
  }
  for (const [varName, value] of Object.entries(options.set ?? {})) setGlobal(elf, btf, maps, varName, BigInt(value));

  const findMap = (sym: { name: string; value: number; type: number }, sec: { name: string }) => {
    if (sec.name === '.maps' || sec.name === 'maps')
      return (
        maps.find((m) => m.section === sec.name && m.name === sym.name) ??
        maps.find((m) => m.section === sec.name && m.offset === sym.value)
      );
    if (isDataSection(sec.name)) return maps.find((m) => m.internal?.elfSection === sec.name);
    return undefined;
  };

  const programs: ProgramSpec[] = [];
  for (const s of elf.sections) {
    if (!(s.flags & SHF.EXECINSTR) || s.name === '.text' || s.size === 0) continue;
    const type = options.type ?? progTypeForSection(s.name);
    for (const sym of elf.symbols) {
      if (sym.shndx !== s.index || sym.type !== STT.FUNC || sym.bind === STB.LOCAL) continue;
      programs.push(linkProgram(elf, sym, findMap, type));
    }
  }
  if (btfExt && btf) checkCore(btf, btfExt);

  const lic = elf.section('license');
  const license = lic
    ? new TextDecoder().decode(lic.data.subarray(0, lic.data.indexOf(0) >= 0 ? lic.data.indexOf(0) : lic.data.length))
    : '';
  const ver = elf.section('version');
  const version = ver && ver.size >= 4 ? new DataView(ver.data.buffer, ver.data.byteOffset, 4).getUint32(0, true) : 0;
  return { name, maps, programs, license, version, btf, btfExt, funcs: funcSignatures(elf, btf), globalFuncs: globalFuncArgs(elf, btf) };
}

/**
 * globalFuncArgs: the arguments of each global function (BTF_FUNC_GLOBAL) as btf_prepare_func_args
 * reads them: integers and enums, pointers (the pointee's size where it has one, its struct
 * name) with the `arg:` decl tags on them, anything else.
 */
function globalFuncArgs(elf: ElfFile, btf: Btf | undefined): Map<string, readonly GlobalArg[]> {
  const out = new Map<string, readonly GlobalArg[]>();
  if (!btf) return out;
  for (const sym of elf.symbols) {
    if (sym.type !== STT.FUNC || sym.size === 0) continue;
    const fn = btf.byName(Kind.FUNC, sym.name);
    if (!fn || fn.linkage !== 1) continue;
    const tags = btf.types.filter((t) => t.kind === Kind.DECL_TAG && t.type === fn.id && t.name.startsWith('arg:'));
    const args = btf.get(fn.type).members.map((m, i): GlobalArg => {
      const t = btf.skipModifiers(m.type);
      if (t.kind === Kind.INT || t.kind === Kind.ENUM || t.kind === Kind.ENUM64) return { kind: 'int' };
      if (t.kind !== Kind.PTR) return { kind: 'other' };
      const to = btf.skipModifiers(t.type);
      const sized = [Kind.INT, Kind.ENUM, Kind.ENUM64, Kind.STRUCT, Kind.UNION, Kind.ARRAY, Kind.PTR, Kind.FLOAT].includes(to.kind as 1);
      return {
        kind: 'ptr',
        ...(sized ? { size: btf.sizeOf(to.id) } : {}),
        ...(to.kind === Kind.STRUCT ? { struct: to.name } : {}),
        tags: tags.filter((d) => d.componentIdx === i).map((d) => d.name.slice(4)),
      };
    });
    out.set(`${elf.sections[sym.shndx].name}:${sym.value}`, args);
  }
  return out;
}

/** setGlobal writes a global's new value into its data map, checking that the name and value fit. */
function setGlobal(elf: ElfFile, btf: Btf | undefined, maps: MapDef[], varName: string, value: bigint): void {
  if (!btf) throw new ElfError(`set ${varName}: the object has no BTF to find globals by name`);
  for (const m of maps) {
    if (!m.internal) continue;
    const sec = elf.section(m.internal.elfSection)!;
    const v = sectionVars(btf, sec.name, elf.symbols, sec.index).find((x) => x.name === varName);
    if (!v) continue;
    const t = btf.skipModifiers(v.type);
    if (t.kind !== Kind.INT && t.kind !== Kind.ENUM && t.kind !== Kind.ENUM64)
      throw new ElfError(`set ${varName}: not an integer`, { section: m.internal.elfSection });
    const bits = BigInt(8 * v.size);
    const signed = t.kind === Kind.INT && t.signed;
    const min = signed ? -(1n << (bits - 1n)) : 0n;
    const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
    if (value < min || value > max)
      throw new ElfError(`set ${varName}: ${value} does not fit ${v.size} byte${v.size > 1 ? 's' : ''}${signed ? ' (signed)' : ''}`, {
        section: m.internal.elfSection,
      });
    let u = BigInt.asUintN(Number(bits), value);
    for (let i = 0; i < v.size; i++, u >>= 8n) m.initial![v.offset + i] = Number(u & 0xffn);
    return;
  }
  throw new ElfError(`set ${varName}: no global variable of that name`);
}

/**
 * checkCore resolves each CO-RE relocation's access string against the object's own types.
 * Relocated against those same types, every relocation keeps the value clang compiled in;
 * one whose type or access path does not exist is an error naming it.
 */
function checkCore(btf: Btf, ext: BtfExt): void {
  for (const [sec, relos] of ext.core) {
    for (const r of relos) {
      const where = `CO-RE relocation at insn ${r.insnOff / 8} (type ${r.typeId}, access ${r.access}, kind ${r.kind})`;
      let t = btf.types[r.typeId];
      if (!t) throw new ElfError(`${where}: no such type`, { section: sec });
      const path = r.access.split(':').map(Number);
      for (const idx of path.slice(1)) {
        t = btf.skipModifiers(t.id);
        if (t.kind === Kind.ARRAY) t = btf.get(t.elem!);
        else if ((t.kind === Kind.STRUCT || t.kind === Kind.UNION) && idx < t.members.length) t = btf.get(t.members[idx].type);
        else throw new ElfError(`${where}: access path leaves the type`, { section: sec });
      }
    }
  }
}

/** funcSignatures renders each function's C prototype from BTF, as bpftool does ("int f(struct xdp_md * ctx)"). */
function funcSignatures(elf: ElfFile, btf: Btf | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!btf) return out;
  const typeName = (id: number): string => {
    const t = btf.get(id);
    switch (t.kind) {
      case Kind.PTR:
        return `${typeName(t.type)} *`;
      case Kind.STRUCT:
        return `struct ${t.name}`;
      case Kind.UNION:
        return `union ${t.name}`;
      case Kind.ENUM:
        return `enum ${t.name}`;
      case Kind.CONST:
        return `const ${typeName(t.type)}`;
      case Kind.VOLATILE:
        return `volatile ${typeName(t.type)}`;
      case 0:
        return 'void';
      default:
        return t.name || 'void';
    }
  };
  for (const sym of elf.symbols) {
    if (sym.type !== STT.FUNC || sym.size === 0) continue;
    const fn = btf.byName(Kind.FUNC, sym.name);
    if (!fn) continue;
    const proto = btf.get(fn.type);
    const params = proto.members.map((m) => `${typeName(m.type)} ${m.name}`).join(', ');
    out.set(`${elf.sections[sym.shndx].name}:${sym.value}`, `${typeName(proto.type)} ${sym.name}(${params})`);
  }
  return out;
}
