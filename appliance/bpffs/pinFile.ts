import { ArrayMap } from '../../maps/array.js';
import { BloomFilter } from '../../maps/bloomFilter.js';
import { BpfErrno, Errno } from '../../uapi/errno.js';
import type { Kernel } from '../../kernel/kernel.js';
import { MapType } from '../../uapi/mapType.js';
import type { MapObject, ProgObject } from '../../kernel/objects.js';
import { QueueStack } from '../../maps/queueStack.js';
import type { MapSpec } from '../../maps/spec.js';
import { LDDW, Pseudo } from '../../vm/opcodes.js';
import { mapCreateAttr } from '../../kernel/attr.js';

/** Owner names the process holding a pinned object live, and its control socket. */
export interface Owner {
  readonly pid: number;
  readonly socket: string;
}

/**
 * PinnedMap is a pinned map on disk: its spec and contents. Keys and values are hex; a
 * queue or stack keeps its values oldest first, a bloom filter its bit array. Ring buffer
 * records and the slots of prog arrays, perf event arrays and maps of maps (which name other
 * live objects) are not kept: they come back empty. An array keeps only its entries that are not
 * all zero (a restored array starts zeroed): katran's 33-million-slot ch_rings is a few bytes
 * until it is filled, not gigabytes of hex.
 */
export interface PinnedMap {
  readonly bpfbox: 1;
  readonly kind: 'map';
  readonly id: number;
  readonly spec: MapSpec;
  readonly frozen: boolean;
  readonly entries?: [string, string][];
  readonly values?: string[];
  readonly bits?: string;
  /** CPUs a per-CPU map's values have slots for (each value is that many slots), when not the restoring kernel's. */
  readonly ncpus?: number;
  owner?: Owner;
}

/** PinnedProg is a pinned program: its bytecode (map fds replaced by indexes) and its maps. */
export interface PinnedProg {
  readonly bpfbox: 1;
  readonly kind: 'prog';
  readonly id: number;
  readonly type: number;
  readonly name: string;
  readonly license: string;
  readonly insns: string;
  /**
   * Its maps in first-use order, each by a path: `<bpffs>/.held/map-<id>` (appliance/bpffs/filePinStore.ts),
   * or the map embedded (files written before held maps) or its pin path (files of that time).
   */
  readonly maps: (PinnedMap | { readonly pinnedAt: string })[];
  /** Maps bound with BPF_PROG_BIND_MAP beyond those it references, by held path. */
  readonly bound?: { readonly pinnedAt: string }[];
  /** Source lines and function names by slot, when the program was loaded with BTF info. */
  readonly lines?: [number, { line: string; file?: string; lineNum?: number; col?: number }][];
  readonly funcs?: [number, string][];
  /** BPF_PROG_LOAD's expected_attach_type (a DEVMAP entry's program: BPF_XDP_DEVMAP), when not 0. */
  readonly expectedAttachType?: number;
  /** When the program was first loaded (ms since the epoch): `prog show`'s loaded_at in every later process. */
  readonly loadedAt?: number;
  owner?: Owner;
}

export type PinnedObject = PinnedMap | PinnedProg;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const SLOT_TYPES: readonly number[] = [
  MapType.BPF_MAP_TYPE_PROG_ARRAY,
  MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS,
  MapType.BPF_MAP_TYPE_HASH_OF_MAPS,
  MapType.BPF_MAP_TYPE_RINGBUF,
];

/** snapshotMap captures a map for its pin file. */
export function snapshotMap(m: MapObject): PinnedMap {
  const base = {
    bpfbox: 1 as const,
    kind: 'map' as const,
    id: m.id,
    spec: m.spec,
    frozen: m.frozen,
    ...(m.map.percpu ? { ncpus: m.map.ncpus } : {}),
  };
  if (m.map instanceof QueueStack) return { ...base, values: m.map.values().map(hex) };
  if (m.map instanceof BloomFilter) return { ...base, bits: hex(m.map.bits()) };
  if (SLOT_TYPES.includes(m.spec.type)) return base;
  const entries = m.map instanceof ArrayMap ? m.map.setEntries() : m.map.entries();
  return { ...base, entries: Array.from(entries, ([k, v]) => [hex(k), hex(v)]) };
}

/**
 * snapshotProg captures a program and the maps it uses. The bytecode keeps the loading
 * process's fds; its maps are listed in first-use order, which is how restoreProg maps them
 * back to new fds.
 */
export function snapshotProg(p: ProgObject, pinnedAt: (m: MapObject) => string | undefined = () => undefined): PinnedProg {
  const bound = p.bound.flatMap((m) => {
    const at = pinnedAt(m);
    return at ? [{ pinnedAt: at }] : [];
  });
  return {
    bpfbox: 1,
    kind: 'prog',
    id: p.id,
    type: p.type,
    name: p.name,
    license: p.license,
    insns: hex(p.bytecode),
    maps: p.maps.map((m) => {
      const at = pinnedAt(m);
      return at ? { pinnedAt: at } : snapshotMap(m);
    }),
    lines: [...p.lineInfo],
    funcs: [...p.funcInfo],
    ...(bound.length ? { bound } : {}),
    ...(p.expectedAttachType ? { expectedAttachType: p.expectedAttachType } : {}),
    loadedAt: p.loadedAt,
  };
}

/** restoreMap re-creates a pinned map in `k` (keeping its id when free) and returns its fd. */
export function restoreMap(k: Kernel, f: PinnedMap): number {
  const s = f.spec;
  const innerFd = s.innerMap
    ? k.bpf('BPF_MAP_CREATE', {
        map_type: s.innerMap.type,
        key_size: s.innerMap.keySize,
        value_size: s.innerMap.valueSize,
        max_entries: s.innerMap.maxEntries,
        map_flags: s.innerMap.flags ?? 0,
      })
    : 0;
  k.wantId(f.id);
  if (f.ncpus) k.wantNcpus(f.ncpus);
  const fd = k.bpf('BPF_MAP_CREATE', mapCreateAttr(s, innerFd));
  if (innerFd > 0) k.close(innerFd);
  if (fd < 0) throw new BpfErrno(-fd, 'restoring a pinned map');
  const m = k.process.mapOf(fd).map;
  // a per-CPU value pinned with fewer CPUs than this kernel has: the others' slots are zero
  const fit = (v: Uint8Array) =>
    v.length >= m.map.userValueSize ? v : Uint8Array.from({ length: m.map.userValueSize }, (_, i) => v[i] ?? 0);
  for (const [key, value] of f.entries ?? []) m.map.updateBytes(unhex(key), fit(unhex(value)), 0);
  for (const v of f.values ?? []) m.map.pushBytes(unhex(v), 0);
  if (f.bits && m.map instanceof BloomFilter) m.map.setBits(unhex(f.bits));
  m.frozen = f.frozen;
  return fd;
}

/** restoreProg re-creates a pinned program and its maps in `k` and returns its fd. */
export function restoreProg(k: Kernel, f: PinnedProg): number {
  const fds = f.maps.map((m) => {
    if (!('pinnedAt' in m)) return restoreMap(k, m);
    const fd = k.bpf('BPF_OBJ_GET', { pathname: m.pinnedAt });
    if (fd < 0) throw new BpfErrno(-fd, `restoring a program: its map pinned at ${m.pinnedAt}`);
    return fd;
  });
  const insns = unhex(f.insns);
  const dv = new DataView(insns.buffer);
  let next = 0;
  const byOldFd = new Map<number, number>();
  for (let i = 0; i + 16 <= insns.length; i += 8) {
    const src = insns[i + 1] >> 4;
    if (insns[i] === LDDW && (src === Pseudo.BPF_PSEUDO_MAP_FD || src === Pseudo.BPF_PSEUDO_MAP_VALUE)) {
      const old = dv.getUint32(i + 4, true);
      if (!byOldFd.has(old)) byOldFd.set(old, fds[next++]);
      dv.setUint32(i + 4, byOldFd.get(old)!, true);
      i += 8;
    }
  }
  k.wantId(f.id);
  const fd = k.bpf('BPF_PROG_LOAD', {
    prog_type: f.type,
    insns,
    license: f.license,
    prog_name: f.name,
    ...(f.expectedAttachType ? { expected_attach_type: f.expectedAttachType } : {}),
    line_info: (f.lines ?? []).map(([insn, l]) => ({ insn, ...l })),
    func_info: (f.funcs ?? []).map(([insn, name]) => ({ insn, name })),
  });
  for (const m of fds) k.close(m);
  if (fd < 0) throw new BpfErrno(-fd, 'restoring a pinned program');
  for (const b of f.bound ?? []) {
    const mfd = k.bpf('BPF_OBJ_GET', { pathname: b.pinnedAt });
    if (mfd < 0) throw new BpfErrno(-mfd, `restoring a program: its bound map ${b.pinnedAt}`);
    k.bpf('BPF_PROG_BIND_MAP', { prog_fd: fd, map_fd: mfd, flags: 0 });
    k.close(mfd);
  }
  // the same program as the one first loaded: its load time, not this process's
  if (f.loadedAt !== undefined) k.process.progOf(fd).loadedAt = f.loadedAt;
  return fd;
}

/** parsePinned reads a pin file's text, naming the file when it is not one. */
export function parsePinned(file: string, text: string): PinnedObject {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new BpfErrno(Errno.EINVAL, `${file}: not a bpfbox pin file (${(e as Error).message})`);
  }
  const o = v as Partial<PinnedObject>;
  if (o.bpfbox !== 1 || (o.kind !== 'map' && o.kind !== 'prog')) throw new BpfErrno(Errno.EINVAL, `${file}: not a bpfbox pin file`);
  return o as PinnedObject;
}
