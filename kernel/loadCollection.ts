import type { GlobalArg } from '../vm/verifier/globalFunc.js';
import { BpfErrno, Errno } from '../uapi/errno.js';
import { BpfError } from '../vm/errors.js';
import type { BpfProcess } from './process.js';
import { LIBBPF_PIN_BY_NAME, type MapDef } from '../elf/mapDefs.js';
import type { CollectionSpec } from '../elf/collection.js';
import { attachTypeForSection, autoloadOff } from '../elf/sectionTypes.js';
import { mapCreateAttr } from './attr.js';
import { MapType, mapTypeEnumName } from '../uapi/mapType.js';

/** LoadOptions: where pin-by-name maps go (libbpf's pin_root_path). */
export interface LoadOptions {
  readonly pinRoot?: string;
  /** Create the maps only (programs and prog-array slots are left to the caller, as `bpfbox verify` does). */
  readonly mapsOnly?: boolean;
  /** Programs to load although their section says autoload off (`SEC("?xdp")`): libbpf's bpf_program__set_autoload. */
  readonly autoload?: readonly string[];
}

/** LoadedCollection: the fds of the loaded maps and programs, by name. */
export interface LoadedCollection {
  readonly maps: ReadonlyMap<string, number>;
  readonly programs: ReadonlyMap<string, number>;
  /** close releases every fd (the objects live on while pinned or used). */
  close(): void;
}

const le32 = (n: number) => Uint8Array.from([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]);

/** CollectionLoadError: loading a collection failed; the message names the map or program and the errno (its `cause`, a BpfErrno). */
export class CollectionLoadError extends BpfError {
  readonly errno: number;
  /** What failed ("program xdp_fw", "map counters"). */
  readonly what: string;
  /** The verifier's log, for a program. */
  readonly log?: string;
  /** `detail` says what the errno means here, on the same line (`BPF_MAP_TYPE_SOCKMAP maps are not supported`). */
  constructor(what: string, errno: number, log?: string, detail?: string) {
    const cause = new BpfErrno(errno);
    const said = detail ? `${detail} (${cause.message.split(':')[0]})` : cause.message;
    super(`load ${what}: ${said}${log ? `\n${log}` : ''}`, { cause });
    this.errno = errno;
    this.what = what;
    this.log = log;
  }
}

/** ProgramLoad: what BPF_PROG_LOAD answered for one program: its fd, or the errno; the log it wrote. */
export interface ProgramLoad {
  readonly fd: number;
  readonly errno: number;
  readonly log: string;
}

/**
 * loadProgram links one program of the collection to the loaded maps (their fds into its
 * `lddw`s) and loads it with the given log level (a 16 MiB log buffer, as bpftool -d uses).
 */
export function loadProgram(
  p: BpfProcess,
  spec: CollectionSpec,
  prog: CollectionSpec['programs'][number],
  maps: ReadonlyMap<string, number>,
  logLevel: number,
): ProgramLoad {
  const insns = Uint8Array.from(prog.insns);
  const dv = new DataView(insns.buffer);
  for (const [slot, mapName] of prog.mapRefs) {
    const fd = maps.get(mapName);
    if (fd === undefined) throw new CollectionLoadError(`program ${prog.name}`, Errno.EINVAL, `refers to unknown map ${mapName}`);
    dv.setInt32(slot * 8 + 4, fd, true);
  }
  if (prog.type === undefined)
    throw new CollectionLoadError(`program ${prog.name}`, Errno.EINVAL, `section ${prog.section} names no program type; give one`);
  const log = logLevel ? new Uint8Array(1 << 24) : undefined;
  const fd = p.bpf('BPF_PROG_LOAD', {
    prog_type: prog.type,
    ...(attachTypeForSection(prog.section) !== undefined ? { expected_attach_type: attachTypeForSection(prog.section) } : {}),
    insns,
    license: spec.license,
    prog_name: prog.name.slice(0, 15),
    ...(log ? { log_level: logLevel, log_buf: log, log_size: log.length } : {}),
    ...lineAndFuncInfo(spec, prog),
    ...(spec.btf ? { prog_btf: spec.btf } : {}),
  });
  const text = log ? new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0)))) : '';
  return { fd: Math.max(fd, -1), errno: fd < 0 ? -fd : 0, log: text };
}

/**
 * loadCollection loads a CollectionSpec through the bpf() door as libbpf does: maps first
 * (a pin-by-name map reuses a compatible pin or fails naming the difference; global data is
 * written and `.rodata` frozen), then each program with its map fds written into its
 * `lddw`s, then the initial slots of prog arrays and maps of maps. On any failure every
 * object created is released and the error names the map or program.
 */
export function loadCollection(p: BpfProcess, spec: CollectionSpec, options: LoadOptions = {}): LoadedCollection {
  const maps = new Map<string, number>();
  const programs = new Map<string, number>();
  const opened: number[] = [];
  const close = () => {
    for (const fd of opened.splice(0)) p.close(fd);
  };
  const check = (r: number, what: string, log?: string): number => {
    if (r < 0) throw new CollectionLoadError(what, -r, log);
    return r;
  };
  try {
    for (const m of spec.maps) maps.set(m.name, createMap(p, m, options, opened, check));
    // libbpf's LIBBPF_MAP_RODATA maps: `.rodata` and every `.rodata.*` (string literals, constants)
    const rodata = spec.maps.filter((m) => m.internal && /^\.rodata($|\.)/.test(m.internal.elfSection)).map((m) => m.name);
    const wanted = (prog: CollectionSpec['programs'][number]) => !autoloadOff(prog.section) || options.autoload?.includes(prog.name);
    for (const prog of options.mapsOnly ? [] : spec.programs.filter(wanted)) {
      // as libbpf: without a log first; on failure again with log_level 1 for the log
      let r = loadProgram(p, spec, prog, maps, 0);
      if (r.fd < 0) r = loadProgram(p, spec, prog, maps, 1);
      check(r.fd < 0 ? -r.errno : r.fd, `program ${prog.name}`, r.log);
      opened.push(r.fd);
      programs.set(prog.name, r.fd);
      // as libbpf (bpf_object_load_prog): the object's read-only data bound to every program, for tools that read its metadata
      for (const name of rodata)
        check(p.bpf('BPF_PROG_BIND_MAP', { prog_fd: r.fd, map_fd: maps.get(name)! }), `program ${prog.name} (bind ${name})`);
    }
    if (options.mapsOnly) return { maps, programs, close };
    for (const m of spec.maps) {
      for (const [slot, target] of m.slots) {
        const fd = programs.get(target) ?? maps.get(target);
        if (fd === undefined) throw new CollectionLoadError(`map ${m.name}`, Errno.EINVAL, `slot ${slot} names unknown ${target}`);
        check(p.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: maps.get(m.name)!, key: le32(slot), value: le32(fd) }), `map ${m.name} slot ${slot}`);
      }
    }
  } catch (e) {
    close();
    throw e;
  }
  return { maps, programs, close };
}

function createMap(
  p: BpfProcess,
  m: MapDef,
  options: LoadOptions,
  opened: number[],
  check: (r: number, what: string, log?: string) => number,
): number {
  // libbpf: a perf event array without max_entries gets one slot per possible CPU
  const s =
    m.spec.type === MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY && !m.spec.maxEntries ? { ...m.spec, maxEntries: p.kernel.ncpus } : m.spec;
  if (m.pinning === LIBBPF_PIN_BY_NAME) {
    const path = `${options.pinRoot ?? '/sys/fs/bpf'}/${m.name}`;
    const fd = p.bpf('BPF_OBJ_GET', { pathname: path });
    if (fd >= 0) {
      opened.push(fd);
      const have = p.mapOf(fd).map.spec;
      const diff = (['type', 'keySize', 'valueSize', 'maxEntries', 'flags'] as const).find((k) => (have[k] ?? 0) !== (s[k] ?? 0));
      if (diff)
        throw new CollectionLoadError(
          `map ${m.name}`,
          Errno.EINVAL,
          `pinned map at ${path} differs in ${diff}: ${have[diff]} != ${s[diff]}`,
        );
      return fd;
    }
  }
  let inner = 0;
  if (m.inner) {
    const i = m.inner.spec;
    inner = check(
      p.bpf('BPF_MAP_CREATE', {
        map_type: i.type,
        key_size: i.keySize,
        value_size: i.valueSize,
        max_entries: i.maxEntries,
        map_flags: i.flags ?? 0,
      }),
      `map ${m.name} (inner template)`,
    );
  }
  const fd = p.bpf('BPF_MAP_CREATE', mapCreateAttr(s, inner));
  if (inner) p.close(inner);
  // a kernel map type bpfbox does not model: say which, not only the errno
  if (fd === -Errno.ENOTSUPP)
    throw new CollectionLoadError(
      `map ${m.name}`,
      Errno.ENOTSUPP,
      undefined,
      `${mapTypeEnumName(s.type)} maps are not supported by bpfbox`,
    );
  check(fd, `map ${m.name}`);
  opened.push(fd);
  if (m.initial) {
    check(p.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: le32(0), value: m.initial }), `map ${m.name} (initial data)`);
    if (m.internal?.readOnly) check(p.bpf('BPF_MAP_FREEZE', { map_fd: fd }), `map ${m.name} (freeze)`);
  }
  if (m.pinning === LIBBPF_PIN_BY_NAME)
    check(p.bpf('BPF_OBJ_PIN', { pathname: `${options.pinRoot ?? '/sys/fs/bpf'}/${m.name}`, bpf_fd: fd }), `map ${m.name} (pin)`);
  return fd;
}

/** lineAndFuncInfo maps the object's BTF line and function info onto a linked program's slots. */
function lineAndFuncInfo(spec: CollectionSpec, prog: CollectionSpec['programs'][number]) {
  const lines = spec.btfExt?.lines;
  const line_info: { insn: number; line: string; file: string; lineNum: number; col: number }[] = [];
  const func_info: { insn: number; name: string; global?: readonly GlobalArg[] }[] = [];
  const funcs = spec.funcs ?? new Map<string, string>();
  prog.origins.forEach((o, slot) => {
    const l = lines?.get(o.section)?.find((x) => x.insnOff === o.offset);
    if (l) line_info.push({ insn: slot, line: l.line, file: l.file, lineNum: l.lineNum, col: l.col });
    const f = funcs.get(`${o.section}:${o.offset}`);
    const global = spec.globalFuncs?.get(`${o.section}:${o.offset}`);
    if (f) func_info.push({ insn: slot, name: f, ...(global ? { global } : {}) });
  });
  return { line_info, func_info };
}
