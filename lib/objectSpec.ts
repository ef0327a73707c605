import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type Btf, sectionVars, typeDesc } from '../elf/btf.js';
import { type CollectionSpec, readCollection } from '../elf/collection.js';
import { ElfFile } from '../elf/elfFile.js';
import type { MapDef } from '../elf/mapDefs.js';
import type { ProgramSpec } from '../elf/programs.js';
import { progTypeForSection } from '../elf/sectionTypes.js';
import { Kernel } from '../kernel/kernel.js';
import { loadCollection } from '../kernel/loadCollection.js';
import type { TypeDesc } from '../maps/typeDesc.js';
import { progTypeName } from '../uapi/progType.js';
import { UserError } from '../uapi/userError.js';
import type { EngineName } from '../vm/engine.js';
import { DEFAULT_ENGINE, engineByName } from '../vm/engines.js';
import { Collection } from './collection.js';
import { type Typed, decodeValue } from './typedValue.js';

/** OpenOptions: libbpf's bpf_object_open_opts as bpfbox has them: the object's name, knobs, where pin-by-name maps go. */
export interface OpenOptions {
  /** The object's name (libbpf: the file name up to its first dot); default the file's name, or `bpf_object`. */
  readonly name?: string;
  /** `const volatile` (and other) globals by name: `{ drop_proto: 17 }` (`--set`). */
  readonly set?: Readonly<Record<string, bigint | number>>;
  /** libbpf's pin_root_path: where maps with `pinning LIBBPF_PIN_BY_NAME` are pinned (default /sys/fs/bpf). */
  readonly pinRoot?: string;
}

/**
 * LoadObjectOptions: the kernel to load into (default a new one-CPU Kernel running programs on
 * `engine`, DEFAULT_ENGINE (the JIT) unless given, as the CLI does), programs to load that say autoload off.
 */
export interface LoadObjectOptions {
  readonly kernel?: Kernel;
  readonly engine?: EngineName;
  readonly autoload?: readonly string[];
}

/** GlobalVar: a global variable of the object's data sections, as BTF describes it, with the value it will be loaded with. */
export interface GlobalVar {
  readonly name: string;
  readonly section: string;
  readonly offset: number;
  readonly size: number;
  readonly type: TypeDesc;
  readonly value: Typed;
}

/** ProgramInfo: a program of the object before load: its name, section and type (changeable with setProgramType). */
export interface ProgramInfo {
  readonly name: string;
  readonly section: string;
  readonly type: number | undefined;
  readonly typeName: string | undefined;
}

/**
 * openObject reads a clang-compiled BPF object, a path or its bytes, into an ObjectSpec
 * (libbpf's bpf_object__open_file / open_mem; cilium/ebpf's LoadCollectionSpec). Nothing is
 * loaded yet.
 */
export function openObject(source: string | Uint8Array, options: OpenOptions = {}): ObjectSpec {
  const bytes = typeof source === 'string' ? readObject(source) : source;
  return new ObjectSpec(bytes, { ...options, name: options.name ?? (typeof source === 'string' ? basename(source) : undefined) });
}

function readObject(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UserError(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, {
      file: path,
      cause: e,
    });
  }
}

/**
 * ObjectSpec is an opened object that can still change before load (libbpf between open and
 * load): knobs (`set`), map sizes (`setMaxEntries`), program types (`setProgramType`). `spec`
 * is the CollectionSpec these make; `load()` turns it into a live Collection.
 */
export class ObjectSpec {
  readonly #bytes: Uint8Array;
  readonly #options: OpenOptions;
  readonly #knobs: Record<string, bigint | number>;
  readonly #maxEntries = new Map<string, number>();
  readonly #progTypes = new Map<string, number>();
  #spec: CollectionSpec;

  constructor(bytes: Uint8Array, options: OpenOptions = {}) {
    this.#bytes = bytes;
    this.#options = options;
    this.#knobs = { ...(options.set ?? {}) };
    this.#spec = readCollection(bytes, { name: options.name, set: this.#knobs });
  }

  get name(): string {
    return this.#spec.name;
  }
  get license(): string {
    return this.#spec.license;
  }
  get btf(): Btf | undefined {
    return this.#spec.btf;
  }

  /** spec: the object as a CollectionSpec with the changes made so far (what load() loads). */
  get spec(): CollectionSpec {
    const maps = this.#spec.maps.map((m): MapDef => {
      const n = this.#maxEntries.get(m.name);
      return n === undefined ? m : { ...m, spec: { ...m.spec, maxEntries: n } };
    });
    const programs = this.#spec.programs.map((p): ProgramSpec => {
      const t = this.#progTypes.get(p.name);
      return t === undefined ? p : { ...p, type: t };
    });
    return { ...this.#spec, maps, programs };
  }

  /** maps: the maps the object defines (global data maps included), as they will be created. */
  get maps(): readonly MapDef[] {
    return this.spec.maps;
  }

  /** programs: the object's programs with their types. */
  get programs(): readonly ProgramInfo[] {
    return this.spec.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: p.type,
      typeName: p.type === undefined ? undefined : progTypeName(p.type),
    }));
  }

  /** globals: the variables of the data sections (.data, .rodata, .bss, …) with their values as they will be loaded. */
  get globals(): readonly GlobalVar[] {
    const btf = this.#spec.btf;
    if (!btf) return [];
    const elf = new ElfFile(this.#bytes);
    const out: GlobalVar[] = [];
    for (const m of this.#spec.maps) {
      if (!m.internal || !m.initial) continue;
      const sec = elf.section(m.internal.elfSection)!;
      for (const v of sectionVars(btf, sec.name, elf.symbols, sec.index)) {
        const type = typeDesc(btf, v.type);
        out.push({
          name: v.name,
          section: sec.name,
          offset: v.offset,
          size: v.size,
          type,
          value: decodeValue(type, m.initial.subarray(v.offset)),
        });
      }
    }
    return out;
  }

  /** set changes a global's initial value (`const volatile` knobs; libbpf: skel->rodata->knob = …); the name and value are checked now. */
  set(name: string, value: bigint | number): this {
    const knobs = { ...this.#knobs, [name]: value };
    this.#spec = readCollection(this.#bytes, { name: this.#options.name, set: knobs });
    this.#knobs[name] = value;
    return this;
  }

  /** setMaxEntries changes a map's max_entries (bpf_map__set_max_entries). */
  setMaxEntries(map: string, n: number): this {
    if (!this.#spec.maps.some((m) => m.name === map)) throw new UserError(`set max_entries: ${this.name} has no map ${map}`);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new UserError(`set max_entries: map ${map}: ${n} is not a u32`);
    this.#maxEntries.set(map, n);
    return this;
  }

  /** setProgramType changes a program's type (bpf_program__set_type): a number or a section-style name (`xdp`, `tc`, `socket`). */
  setProgramType(prog: string, type: number | string): this {
    if (!this.#spec.programs.some((p) => p.name === prog)) throw new UserError(`set type: ${this.name} has no program ${prog}`);
    const t = typeof type === 'number' ? type : progTypeForSection(type);
    if (t === undefined) throw new UserError(`set type: program ${prog}: unrecognized program type ${type}`);
    this.#progTypes.set(prog, t);
    return this;
  }

  /**
   * load creates the maps and loads the programs through the bpf() door (bpf_object__load;
   * cilium/ebpf's NewCollection): a CollectionLoadError (errno, cause, the verifier log) names
   * what failed, and nothing stays loaded then.
   */
  load(options: LoadObjectOptions = {}): Collection {
    const kernel = options.kernel ?? new Kernel({ runtime: { engine: engineByName(options.engine ?? DEFAULT_ENGINE) } });
    const loaded = loadCollection(kernel.process, this.spec, { pinRoot: this.#options.pinRoot, autoload: options.autoload });
    return new Collection(kernel, loaded);
  }
}
