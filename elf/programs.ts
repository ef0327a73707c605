import { LDDW, Pseudo } from '../vm/opcodes.js';
import { ElfError } from './elfError.js';
import { Btf } from './btf.js';
import { Kind } from '../uapi/btf.js';
import { type ElfFile, type Relocation, R_BPF, STB, STT, type Section, type Symbol } from './elfFile.js';
import { kfuncByName } from '../vm/verifier/kfuncs.js';
import type { MapDef } from './mapDefs.js';

/** Origin: where an instruction of a linked program came from (for line info). */
export interface Origin {
  readonly section: string;
  readonly offset: number;
}

/**
 * ProgramSpec is a program as plain data: its raw bytecode, linked (bpf-to-bpf callees
 * appended, call offsets fixed) but with map references still symbolic: each `lddw` that
 * names a map has src BPF_PSEUDO_MAP_FD or BPF_PSEUDO_MAP_VALUE and, in `mapRefs`, the map
 * it needs; the loader writes the fd in.
 */
export interface ProgramSpec {
  readonly name: string;
  readonly section: string;
  readonly type: number | undefined;
  readonly insns: Uint8Array;
  readonly mapRefs: ReadonlyMap<number, string>;
  readonly origins: readonly Origin[];
}

const CALL = 0x85;

/**
 * isKsymVar: whether an extern `__ksym` is a variable (a VAR in the `.ksyms` DATASEC, as
 * `extern const int bpf_prog_active __ksym;`), not a function: libbpf gives those a
 * BPF_PSEUDO_BTF_ID to a kernel variable (percpu ones typed MEM_PERCPU), which bpfbox does not
 * provide yet.
 */
function isKsymVar(elf: ElfFile, name: string): boolean {
  const sec = elf.section('.BTF');
  if (!sec) return false;
  const btf = new Btf(sec.data);
  return !!btf.datasec('.ksyms')?.members.some((m) => m.name === name && btf.get(m.type).kind === Kind.VAR);
}

/** MapLookup finds the map a relocation's symbol names. */
export type MapLookup = (sym: Symbol, sec: Section) => MapDef | undefined;

/**
 * linkProgram builds one program from its symbol, as libbpf does: its own instructions,
 * then every function it calls (found in `.text` or another code section), appended once
 * each, with call offsets rewritten to reach the appended copies, and map references
 * resolved to map names.
 */
export function linkProgram(elf: ElfFile, sym: Symbol, findMap: MapLookup, type: number | undefined): ProgramSpec {
  const sec = elf.sections[sym.shndx];
  const slots: Uint8Array[] = [];
  const origins: Origin[] = [];
  const mapRefs = new Map<number, string>();
  const placed = new Map<string, number>(); // `${section}:${startSlot}` -> first out slot
  const funcs = (s: Section) => elf.symbols.filter((f) => f.shndx === s.index && f.type === STT.FUNC && f.size > 0);

  const place = (s: Section, start: number, len: number): number => {
    const key = `${s.index}:${start}`;
    const have = placed.get(key);
    if (have !== undefined) return have;
    const at = slots.length;
    placed.set(key, at);
    if ((start + len) * 8 > s.size || len <= 0)
      throw new ElfError(`function at insn ${start} (+${len}) runs past the section`, { section: s.name, offset: start * 8 });
    for (let i = 0; i < len; i++) {
      slots.push(Uint8Array.from(s.data.subarray((start + i) * 8, (start + i + 1) * 8)));
      origins.push({ section: s.name, offset: (start + i) * 8 });
    }
    const relocs = new Map<number, Relocation>(elf.relocations(s.index).map((r) => [r.offset, r]));
    for (let i = 0; i < len; i++) {
      const insn = slots[at + i];
      const dv = new DataView(insn.buffer);
      const reloc = relocs.get((start + i) * 8);
      const src = insn[1] >> 4;
      if (reloc && reloc.symbol.shndx === 0 && (insn[0] === LDDW || (insn[0] === CALL && src === Pseudo.BPF_PSEUDO_CALL))) {
        // an extern `__ksym` function: a kfunc call, or its address (bpf_ksym_exists)
        const id = kfuncId(reloc.symbol, s, start + i);
        if (insn[0] === CALL) {
          insn[1] = (insn[1] & 0x0f) | (Pseudo.BPF_PSEUDO_KFUNC_CALL << 4);
          dv.setInt32(4, id, true);
          dv.setInt16(2, 0, true);
        } else {
          // libbpf: BPF_PSEUDO_BTF_ID naming the function, a pointer never NULL; a missing weak one: 0.
          // bpfbox loads a non-zero constant (1) in its place, which tests the same way.
          insn[1] &= 0x0f;
          dv.setInt32(4, id ? 1 : 0, true);
          new DataView(slots[at + i + 1].buffer).setInt32(4, 0, true);
          i++;
        }
        continue;
      }
      if (insn[0] === LDDW && reloc) {
        const target = elf.sections[reloc.symbol.shndx];
        if (!target)
          throw new ElfError(`relocation of insn ${start + i} names symbol ${reloc.symbol.name} of no section`, {
            section: s.name,
            offset: (start + i) * 8,
          });
        if (reloc.type !== R_BPF.R_BPF_64_64)
          throw new ElfError(`lddw relocation type ${reloc.type} is not R_BPF_64_64`, { section: s.name, offset: (start + i) * 8 });
        const map = findMap(reloc.symbol, target);
        if (map) {
          const addend = dv.getInt32(4, true) + (map.internal ? reloc.symbol.value : 0);
          insn[1] = (insn[1] & 0x0f) | ((map.internal ? Pseudo.BPF_PSEUDO_MAP_VALUE : Pseudo.BPF_PSEUDO_MAP_FD) << 4);
          dv.setInt32(4, 0, true);
          if (map.internal) new DataView(slots[at + i + 1].buffer).setInt32(4, addend, true);
          mapRefs.set(at + i, map.name);
        } else if (src === Pseudo.BPF_PSEUDO_FUNC || target.flags & 4) {
          // a function pointer (bpf_loop callbacks): clang's imm is a byte offset from the symbol
          const slot = (reloc.symbol.value + dv.getInt32(4, true)) / 8;
          const [fStart, fLen] = funcRange(target, slot);
          const fn = place(target, fStart, fLen);
          insn[1] = (insn[1] & 0x0f) | (Pseudo.BPF_PSEUDO_FUNC << 4);
          dv.setInt32(4, fn + (slot - fStart) - (at + i + 1), true);
        } else {
          throw new ElfError(`insn ${start + i} refers to ${reloc.symbol.name} in ${target.name}, which is neither a map nor code`, {
            section: s.name,
            offset: (start + i) * 8,
          });
        }
        i++; // second half of lddw
      } else if (insn[0] === LDDW) {
        i++;
      } else if (insn[0] === CALL && src === Pseudo.BPF_PSEUDO_CALL) {
        const imm = dv.getInt32(4, true);
        const target = reloc ? elf.sections[reloc.symbol.shndx] : s;
        const slot = reloc ? reloc.symbol.value / 8 + imm + 1 : start + i + imm + 1;
        if (!reloc && slot >= start && slot < start + len) continue; // a jump within this function
        if (!target || !(target.flags & 4))
          throw new ElfError(`call at insn ${start + i} does not reach code`, { section: s.name, offset: (start + i) * 8 });
        const [fStart, fLen] = funcRange(target, slot);
        const placedAt = place(target, fStart, fLen);
        dv.setInt32(4, placedAt + (slot - fStart) - (at + i + 1), true);
      }
    }
    return at;
  };

  /** kfuncId: bpfbox's id of the kfunc an extern names (0: a weak one no kernel has, as libbpf leaves it). */
  function kfuncId(ext: Symbol, s: Section, at: number): number {
    const k = kfuncByName(ext.name);
    if (k) return k.id;
    if (isKsymVar(elf, ext.name))
      throw new ElfError(`extern (var ksym) '${ext.name}': not provided by bpfbox`, { section: s.name, offset: at * 8 });
    if (ext.bind === STB.WEAK) return 0;
    throw new ElfError(`extern (func ksym) '${ext.name}': not found in kernel or module BTFs`, { section: s.name, offset: at * 8 });
  }

  function funcRange(s: Section, slot: number): [number, number] {
    const f = funcs(s).find((x) => x.value / 8 <= slot && slot < (x.value + x.size) / 8);
    if (!f) throw new ElfError(`no function covers insn ${slot}`, { section: s.name, offset: slot * 8 });
    return [f.value / 8, f.size / 8];
  }

  place(sec, sym.value / 8, sym.size / 8);
  const insns = new Uint8Array(slots.length * 8);
  slots.forEach((b, i) => insns.set(b, i * 8));
  return { name: sym.name, section: sec.name, type, insns, mapRefs, origins };
}
