import { ElfError } from './elfError.js';

/** Section header types and flags (the ELF spec). */
export const SHT = { NULL: 0, PROGBITS: 1, SYMTAB: 2, STRTAB: 3, RELA: 4, NOBITS: 8, REL: 9 } as const;
export const SHF = { WRITE: 1, ALLOC: 2, EXECINSTR: 4 } as const;
/** Symbol types and bindings. */
export const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4 } as const;
export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;
/** BPF relocation types (llvm/BinaryFormat/ELFRelocs/BPF.def). */
export const R_BPF = { NONE: 0, R_BPF_64_64: 1, R_BPF_64_ABS64: 2, R_BPF_64_ABS32: 3, R_BPF_64_NODYLD32: 4, R_BPF_64_32: 10 } as const;
/** EM_BPF: the BPF machine number. */
export const EM_BPF = 247;

/** Section is one section header with its name and contents (empty for NOBITS). */
export interface Section {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly entsize: number;
  readonly data: Uint8Array;
}

/** Symbol is one .symtab entry. */
export interface Symbol {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly bind: number;
  readonly shndx: number;
  readonly value: number;
  readonly size: number;
}

/** Relocation is one SHT_REL entry of a section. */
export interface Relocation {
  readonly offset: number;
  readonly type: number;
  readonly symbol: Symbol;
}

const MAX_SECTIONS = 65280; // SHN_LORESERVE

/**
 * ElfFile is a parsed ELF64 little-endian relocatable object for BPF: sections, the symbol
 * table, and relocations per target section. Every offset and count is checked against the
 * file; a bad one is an ElfError naming the section and offset.
 */
export class ElfFile {
  readonly bytes: Uint8Array;
  readonly sections: readonly Section[];
  readonly symbols: readonly Symbol[];
  readonly #relocs = new Map<number, Relocation[]>();

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    if (bytes.length < 64) throw new ElfError(`file of ${bytes.length} bytes is shorter than an ELF header`, { offset: 0 });
    if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
      throw new ElfError('not an ELF file (bad magic)', { offset: 0 });
    if (bytes[4] !== 2) throw new ElfError(`ELF class ${bytes[4]} is not ELFCLASS64`, { offset: 4 });
    if (bytes[5] === 2)
      throw new ElfError('big-endian BPF objects are not supported (build with -target bpfel or bpf on a little-endian host)', {
        offset: 5,
      });
    if (bytes[5] !== 1) throw new ElfError(`unknown data encoding ${bytes[5]}`, { offset: 5 });
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const type = dv.getUint16(16, true);
    const machine = dv.getUint16(18, true);
    if (type !== 1) throw new ElfError(`e_type ${type} is not ET_REL (a relocatable object from clang -c)`, { offset: 16 });
    if (machine !== EM_BPF) throw new ElfError(`e_machine ${machine} is not EM_BPF (${EM_BPF})`, { offset: 18 });
    const shoff = Number(dv.getBigUint64(40, true));
    const shentsize = dv.getUint16(58, true);
    const shnum = dv.getUint16(60, true);
    const shstrndx = dv.getUint16(62, true);
    if (shentsize !== 64) throw new ElfError(`section header size ${shentsize} is not 64`, { offset: 58 });
    if (shnum === 0 || shnum > MAX_SECTIONS) throw new ElfError(`absurd section count ${shnum}`, { offset: 60 });
    if (shoff + shnum * 64 > bytes.length)
      throw new ElfError(`section headers at 0x${shoff.toString(16)} run past the end of the file`, { offset: 40 });
    if (shstrndx >= shnum) throw new ElfError(`section name table index ${shstrndx} is past ${shnum} sections`, { offset: 62 });

    const raw = Array.from({ length: shnum }, (_, i) => {
      const at = shoff + i * 64;
      const r = {
        index: i,
        nameOff: dv.getUint32(at, true),
        type: dv.getUint32(at + 4, true),
        flags: Number(dv.getBigUint64(at + 8, true)),
        offset: Number(dv.getBigUint64(at + 24, true)),
        size: Number(dv.getBigUint64(at + 32, true)),
        link: dv.getUint32(at + 40, true),
        info: dv.getUint32(at + 44, true),
        entsize: Number(dv.getBigUint64(at + 56, true)),
      };
      if (r.type !== SHT.NOBITS && r.type !== SHT.NULL && r.offset + r.size > bytes.length) {
        throw new ElfError(`contents at 0x${r.offset.toString(16)} (+${r.size}) run past the end of the file`, {
          section: `#${i}`,
          offset: at + 24,
        });
      }
      return r;
    });
    const shstr = raw[shstrndx];
    const names = bytes.subarray(shstr.offset, shstr.offset + shstr.size);
    this.sections = raw.map((r) => ({
      index: r.index,
      name: cstring(names, r.nameOff, `#${r.index}`),
      type: r.type,
      flags: r.flags,
      offset: r.offset,
      size: r.size,
      link: r.link,
      info: r.info,
      entsize: r.entsize,
      data: r.type === SHT.NOBITS || r.type === SHT.NULL ? new Uint8Array(0) : bytes.subarray(r.offset, r.offset + r.size),
    }));

    const symtab = this.sections.find((s) => s.type === SHT.SYMTAB);
    const syms: Symbol[] = [];
    if (symtab) {
      if (symtab.link >= shnum) throw new ElfError(`string table index ${symtab.link} is past ${shnum} sections`, { section: symtab.name });
      const strtab = this.sections[symtab.link].data;
      const sdv = new DataView(symtab.data.buffer, symtab.data.byteOffset, symtab.data.byteLength);
      for (let i = 0; i + 24 <= symtab.size; i += 24) {
        const info = sdv.getUint8(i + 4);
        const shndx = sdv.getUint16(i + 6, true);
        // SHN_UNDEF (0) and the reserved indexes (SHN_ABS, SHN_COMMON, …) name no section
        if (shndx >= shnum && shndx < 0xff00) {
          throw new ElfError(`symbol ${i / 24} is in section ${shndx}, past ${shnum} sections`, {
            section: symtab.name,
            offset: symtab.offset + i + 6,
          });
        }
        syms.push({
          index: i / 24,
          name: cstring(strtab, sdv.getUint32(i, true), symtab.name),
          type: info & 0xf,
          bind: info >> 4,
          shndx: shndx < 0xff00 ? shndx : 0,
          value: Number(sdv.getBigUint64(i + 8, true)),
          size: Number(sdv.getBigUint64(i + 16, true)),
        });
      }
    }
    this.symbols = syms;

    for (const s of this.sections) {
      if (s.type === SHT.RELA) throw new ElfError('RELA relocations are not used by BPF objects', { section: s.name });
      if (s.type !== SHT.REL) continue;
      if (s.info >= shnum) throw new ElfError(`relocation target section ${s.info} is past ${shnum} sections`, { section: s.name });
      const rdv = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
      const list: Relocation[] = [];
      for (let i = 0; i + 16 <= s.size; i += 16) {
        const info = rdv.getBigUint64(i + 8, true);
        const symIndex = Number(info >> 32n);
        const symbol = syms[symIndex];
        if (!symbol)
          throw new ElfError(`relocation ${i / 16} refers to missing symbol ${symIndex}`, { section: s.name, offset: s.offset + i });
        const offset = Number(rdv.getBigUint64(i, true));
        if (offset >= this.sections[s.info].size)
          throw new ElfError(`relocation ${i / 16} at 0x${offset.toString(16)} is past the end of ${this.sections[s.info].name}`, {
            section: s.name,
            offset: s.offset + i,
          });
        list.push({ offset, type: Number(info & 0xffffffffn), symbol });
      }
      this.#relocs.set(s.info, list);
    }
  }

  /** section returns the section with this name, if any. */
  section(name: string): Section | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** relocations returns the relocations that apply to section `index`. */
  relocations(index: number): readonly Relocation[] {
    return this.#relocs.get(index) ?? [];
  }
}

function cstring(table: Uint8Array, off: number, where: string): string {
  if (off >= table.length && !(off === 0 && table.length === 0))
    throw new ElfError(`name offset ${off} is past its string table`, { section: where });
  let end = off;
  while (end < table.length && table[end] !== 0) end++;
  return new TextDecoder().decode(table.subarray(off, end));
}
