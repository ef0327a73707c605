import { readFileSync } from 'node:fs';
import { fileError } from '../../uapi/fileError.js';
import type { Kernel } from '../../kernel/kernel.js';
import { isPerCpu } from './mapEntries.js';
import { BpfErrno } from '../../uapi/errno.js';
import { UserError, type UserErrorOptions } from '../../uapi/userError.js';

/**
 * MapInit: `--map-init FILE`, maps seeded before the first packet:
 *   {"maps": {"NAME": [["HEXKEY", "HEXVALUE"], ...]}, "prog_array": {"NAME": {"INDEX": "PROGRAM"}},
 *    "devmap": {"NAME": {"KEY": {"ifindex": N, "prog": "PROGRAM"}}}}
 * A per-CPU map gets the value in every CPU's slot. `devmap` fills a DEVMAP or DEVMAP_HASH
 * whose values are struct bpf_devmap_val: the ifindex and the entry's own program (loaded for
 * BPF_XDP_DEVMAP, `SEC("xdp/devmap")`), which runs on each frame redirected through it.
 */
export interface MapInit {
  readonly maps?: Readonly<Record<string, readonly (readonly [string, string])[]>>;
  readonly prog_array?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly devmap?: Readonly<Record<string, Readonly<Record<string, { readonly ifindex: number; readonly prog?: string }>>>>;
}

/** MapInitError names the file (or config path) and the entry that does not fit. */
export class MapInitError extends UserError {
  constructor(where: string, message: string, options?: UserErrorOptions) {
    super(`${where}: ${message}`, options);
  }
}

/** readMapInit reads and shape-checks a map-init file. */
export function readMapInit(path: string): MapInit {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw fileError('map init', path, e, 'a JSON file of map entries');
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new MapInitError(path, (e as Error).message, { file: path, cause: e });
  }
  const obj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!obj(v)) throw new MapInitError(path, 'expected an object with "maps", "prog_array" and/or "devmap"');
  for (const k of Object.keys(v))
    if (k !== 'maps' && k !== 'prog_array' && k !== 'devmap')
      throw new MapInitError(path, `unknown key "${k}" (expected "maps", "prog_array" or "devmap")`);
  if (v.devmap !== undefined) {
    if (!obj(v.devmap)) throw new MapInitError(`${path}: devmap`, 'expected an object of map names');
    for (const [name, slots] of Object.entries(v.devmap)) {
      if (!obj(slots)) throw new MapInitError(`${path}: devmap.${name}`, 'expected {"KEY": {"ifindex": N, "prog": "PROGRAM"}}');
      for (const [i, e] of Object.entries(slots))
        if (!obj(e) || !Number.isInteger(e.ifindex) || (e.prog !== undefined && typeof e.prog !== 'string'))
          throw new MapInitError(`${path}: devmap.${name}.${i}`, 'expected {"ifindex": N, "prog": "PROGRAM"} (prog optional)');
    }
  }
  if (v.maps !== undefined) {
    if (!obj(v.maps)) throw new MapInitError(`${path}: maps`, 'expected an object of map names');
    for (const [name, entries] of Object.entries(v.maps)) {
      if (!Array.isArray(entries)) throw new MapInitError(`${path}: maps.${name}`, 'expected a list of [HEXKEY, HEXVALUE]');
      entries.forEach((e, i) => {
        if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || typeof e[1] !== 'string')
          throw new MapInitError(`${path}: maps.${name}[${i}]`, 'expected [HEXKEY, HEXVALUE] (two strings)');
      });
    }
  }
  if (v.prog_array !== undefined) {
    if (!obj(v.prog_array)) throw new MapInitError(`${path}: prog_array`, 'expected an object of map names');
    for (const [name, slots] of Object.entries(v.prog_array)) {
      if (!obj(slots)) throw new MapInitError(`${path}: prog_array.${name}`, 'expected {"INDEX": "PROGRAM"}');
      for (const [i, p] of Object.entries(slots))
        if (typeof p !== 'string') throw new MapInitError(`${path}: prog_array.${name}.${i}`, 'expected a program name');
    }
  }
  return v as MapInit;
}

function hexBytes(where: string, s: string, want: number): Uint8Array {
  const h = s.replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(h)) throw new MapInitError(where, `"${s}" is not hex bytes`);
  const b = Uint8Array.from(Buffer.from(h, 'hex'));
  if (b.length !== want) throw new MapInitError(where, `expected ${want} bytes, got ${b.length}`);
  return b;
}

/** InitPaths: how errors name a place in the source of the entries (a map-init file, a config). */
export interface InitPaths {
  map(name: string): string;
  entry(name: string, i: number): string;
  field(name: string, i: number, field: 'key' | 'value'): string;
  progArray(name: string): string;
  slot(name: string, index: string): string;
}

/** filePaths: places in a --map-init file: `init.json: maps.blocked[3]: key`. */
export const filePaths = (file: string): InitPaths => ({
  map: (n) => `${file}: maps.${n}`,
  entry: (n, i) => `${file}: maps.${n}[${i}]`,
  field: (n, i, f) => `${file}: maps.${n}[${i}]: ${f}`,
  progArray: (n) => `${file}: prog_array.${n}`,
  slot: (n, x) => `${file}: prog_array.${n}.${x}`,
});

/** configPaths: places in a config: `config.yaml: programs[0].maps.blocked.entries[3].key`. */
export const configPaths = (file: string, program: number): InitPaths => ({
  map: (n) => `${file}: programs[${program}].maps.${n}`,
  entry: (n, i) => `${file}: programs[${program}].maps.${n}.entries[${i}]`,
  field: (n, i, f) => `${file}: programs[${program}].maps.${n}.entries[${i}].${f}`,
  progArray: (n) => `${file}: programs[${program}].prog_array.${n}`,
  slot: (n, x) => `${file}: programs[${program}].prog_array.${n}.${x}`,
});

/**
 * applyMapInit writes the entries through the bpf() door (BPF_ANY), so they get the map's
 * own checks; `maps` and `progs` are the loaded collection's fds by name; `where` names the
 * source in errors ("init.json" or "programs[0].maps").
 */
export function applyMapInit(
  k: Kernel,
  init: MapInit,
  maps: ReadonlyMap<string, number>,
  progs: ReadonlyMap<string, number>,
  where: string,
  paths: InitPaths = filePaths(where),
): void {
  const lookup = (name: string, at: string) =>
    maps.get(name) ??
    [...maps].find(([n]) => n.endsWith(`.${name}`))?.[1] ??
    fail(at, `no map named ${name} (the object has ${[...maps.keys()].join(', ')})`);
  const fail = (at: string, m: string, cause?: unknown): never => {
    throw new MapInitError(at, m, { cause });
  };
  for (const [name, entries] of Object.entries(init.maps ?? {})) {
    const fd = lookup(name, paths.map(name));
    const obj = k.process.fds.get(fd)!.obj;
    if (obj.kind !== 'map') continue;
    const spec = obj.spec;
    const percpu = isPerCpu(spec.type);
    entries.forEach(([hk, hv], i) => {
      const at = paths.entry(name, i);
      const key = hexBytes(paths.field(name, i, 'key'), hk, spec.keySize);
      const one = hexBytes(paths.field(name, i, 'value'), hv, spec.valueSize);
      let value = one;
      if (percpu) {
        const stride = (spec.valueSize + 7) & ~7;
        value = new Uint8Array(stride * k.ncpus);
        for (let c = 0; c < k.ncpus; c++) value.set(one, c * stride);
      }
      const r = k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key, value, flags: 0 });
      if (r < 0) {
        const e = new BpfErrno(-r);
        fail(at, `update: ${e.message}`, e);
      }
    });
  }
  for (const [name, slots] of Object.entries(init.devmap ?? {})) {
    const fd = lookup(name, `${where}: devmap.${name}`);
    for (const [index, e] of Object.entries(slots)) {
      const at = `${where}: devmap.${name}.${index}`;
      if (!/^\d+$/.test(index)) fail(at, `key "${index}" is not a number`);
      const pfd =
        e.prog === undefined
          ? 0
          : (progs.get(e.prog) ?? fail(at, `no program named ${e.prog} (the object has ${[...progs.keys()].join(', ')})`));
      const key = new Uint8Array(new Uint32Array([Number(index)]).buffer);
      const value = new Uint8Array(new Uint32Array([e.ifindex, pfd]).buffer);
      const r = k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key, value, flags: 0 });
      if (r < 0) {
        const err = new BpfErrno(-r);
        fail(at, `update: ${err.message}`, err);
      }
    }
  }
  for (const [name, slots] of Object.entries(init.prog_array ?? {})) {
    const fd = lookup(name, paths.progArray(name));
    for (const [index, prog] of Object.entries(slots)) {
      const at = paths.slot(name, index);
      const pfd = progs.get(prog) ?? fail(at, `no program named ${prog} (the object has ${[...progs.keys()].join(', ')})`);
      if (!/^\d+$/.test(index)) fail(at, `index "${index}" is not a number`);
      const key = new Uint8Array(new Uint32Array([Number(index)]).buffer);
      const value = new Uint8Array(new Uint32Array([pfd]).buffer);
      const r = k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key, value, flags: 0 });
      if (r < 0) {
        const e = new BpfErrno(-r);
        fail(at, `update: ${e.message}`, e);
      }
    }
  }
}
