import { MapFlag, MapType } from '../uapi/mapType.js';
import { SHT, type Section } from './elfFile.js';
import type { MapDef } from './mapDefs.js';
import { ElfError } from './elfError.js';

/** MAX_DATA_SECTION: the largest global data section bpfbox turns into a map (256 MiB). */
const MAX_DATA_SECTION = 256 * 1024 * 1024;

/** isDataSection tells whether a section holds global data (`.data`, `.rodata`, `.bss`, `.data.*`, `.rodata.*`). */
export function isDataSection(name: string): boolean {
  return /^\.(data|rodata|bss)(\..+)?$/.test(name);
}

/**
 * internalMapName names a global data map as libbpf does: as much of the object name as
 * fits before the section name, reserving at least 7 characters for the section name
 * ("global_d.rodata", "global_d.bss"); a custom `.rodata.foo` keeps its own name only;
 * all truncated to the kernel's 15 characters.
 */
export function internalMapName(objName: string, section: string): string {
  const sfx = Math.min(Math.max(7, section.length), 15);
  const pfx = section.indexOf('.', 1) >= 0 ? 0 : Math.min(16 - sfx - 1, objName.length);
  return (objName.slice(0, pfx) + section.slice(0, sfx)).slice(0, 15);
}

/**
 * globalDataMap turns a data section into the single-entry array map libbpf makes of it:
 * value size the section size, initialised from the section (zeros for `.bss`),
 * BPF_F_MMAPABLE, and for `.rodata` BPF_F_RDONLY_PROG and frozen after load.
 */
export function globalDataMap(objName: string, sec: Section): MapDef {
  if (sec.size > MAX_DATA_SECTION)
    throw new ElfError(`a data section of ${sec.size} bytes is larger than bpfbox maps (${MAX_DATA_SECTION})`, { section: sec.name });
  const readOnly = sec.name.startsWith('.rodata');
  const flags = MapFlag.BPF_F_MMAPABLE | (readOnly ? MapFlag.BPF_F_RDONLY_PROG : 0);
  const name = internalMapName(objName, sec.name);
  return {
    name,
    section: sec.name,
    offset: 0,
    size: sec.size,
    pinning: 0,
    slots: new Map(),
    spec: { type: MapType.BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: sec.size, maxEntries: 1, flags, name },
    initial: sec.type === SHT.NOBITS ? new Uint8Array(sec.size) : Uint8Array.from(sec.data),
    internal: { elfSection: sec.name, readOnly },
  };
}
