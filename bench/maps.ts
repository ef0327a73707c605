import { createMap } from '../maps/factory.js';
import { MapFlag, MapType } from '../uapi/mapType.js';
import type { BpfMap } from '../maps/bpfMap.js';
import { AddressSpace, Perm } from '../vm/memory.js';
import { bestOf } from './timing.js';

/** MapBench is one map workload: ops per second for the map and for a JS baseline. */
export interface MapBenchResult {
  readonly name: string;
  readonly ops: number;
  readonly mapSeconds: number;
  readonly baselineSeconds: number;
  readonly note?: string;
}

const time = (fn: () => void) => bestOf(3, fn);

let seed = 12345;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 0;

/** keyTable writes n 8-byte keys into the shared memory and returns its address. */
function keyTable(space: AddressSpace, n: number, gen: (i: number) => [number, number]): number {
  const r = space.map(n * 8, Perm.RW, 'bench/keys');
  for (let i = 0; i < n; i++) {
    const [lo, hi] = gen(i);
    space.view.setUint32(r.start + 8 * i, lo, true);
    space.view.setUint32(r.start + 8 * i + 4, hi, true);
  }
  return r.start;
}

function hashBench(type: number, entries: number, label: string, lookups: number): MapBenchResult[] {
  const space = new AddressSpace({ initialBytes: 1 << 20, maximumBytes: 2 * 1024 ** 3 });
  const m: BpfMap = createMap(space, { type, keySize: 8, valueSize: 8, maxEntries: entries, name: 'bench' }, 1);
  const keys = keyTable(space, entries, (i) => [rnd(), i]);
  const value = space.map(8, Perm.RW, 'v').start;
  for (let i = 0; i < entries; i++) m.update(keys + 8 * i, value, 0, 0);
  const js = new Map<number, number>();
  const dv = space.view;
  const jsKey = (i: number) => dv.getUint32(keys + 8 * i, true) + 0x1_0000_0000 * dv.getUint32(keys + 8 * i + 4, true);
  for (let i = 0; i < entries; i++) js.set(jsKey(i), i);
  const order = Int32Array.from({ length: lookups }, () => rnd() % entries);
  let sink = 0;
  const lookup = time(() => {
    for (let i = 0; i < lookups; i++) sink += m.lookup(keys + 8 * order[i], 0);
  });
  const lookupJs = time(() => {
    for (let i = 0; i < lookups; i++) sink += js.get(jsKey(order[i]))!;
  });
  const updates = Math.min(lookups, 1_000_000);
  const update = time(() => {
    for (let i = 0; i < updates; i++) m.update(keys + 8 * order[i], value, 0, 0);
  });
  const updateJs = time(() => {
    for (let i = 0; i < updates; i++) js.set(jsKey(order[i]), i);
  });
  if (sink === 0.5) console.log(sink);
  const mib = m.bytes >= 1 << 20 ? `${(m.bytes / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(m.bytes / 1024)} KiB`;
  return [
    { name: `${label} lookup`, ops: lookups, mapSeconds: lookup, baselineSeconds: lookupJs, note: mib },
    { name: `${label} update`, ops: updates, mapSeconds: update, baselineSeconds: updateJs },
  ];
}

function arrayBench(lookups: number): MapBenchResult[] {
  const space = new AddressSpace({ initialBytes: 1 << 20 });
  const entries = 1024;
  const m = createMap(space, { type: MapType.BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, maxEntries: entries, name: 'a' }, 1);
  const keys = space.map(4 * entries, Perm.RW, 'k').start;
  for (let i = 0; i < entries; i++) space.view.setUint32(keys + 4 * i, i, true);
  const value = space.map(8, Perm.RW, 'v').start;
  const js = new Map<number, number>();
  for (let i = 0; i < entries; i++) js.set(i, i);
  let sink = 0;
  const lookup = time(() => {
    for (let i = 0; i < lookups; i++) sink += m.lookup(keys + 4 * (i & 1023), 0);
  });
  const lookupJs = time(() => {
    for (let i = 0; i < lookups; i++) sink += js.get(i & 1023)!;
  });
  const update = time(() => {
    for (let i = 0; i < lookups; i++) m.update(keys + 4 * (i & 1023), value, 0, 0);
  });
  const updateJs = time(() => {
    for (let i = 0; i < lookups; i++) js.set(i & 1023, i);
  });
  if (sink === 0.5) console.log(sink);
  return [
    { name: 'array (1K) lookup', ops: lookups, mapSeconds: lookup, baselineSeconds: lookupJs },
    { name: 'array (1K) update', ops: lookups, mapSeconds: update, baselineSeconds: updateJs },
  ];
}

function lpmBench(lookups: number): MapBenchResult[] {
  const space = new AddressSpace({ initialBytes: 1 << 20 });
  const n = 10_000;
  const m = createMap(
    space,
    { type: MapType.BPF_MAP_TYPE_LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: n, flags: MapFlag.BPF_F_NO_PREALLOC, name: 'lpm' },
    1,
  );
  const key = space.map(8, Perm.RW, 'k').start;
  const value = space.map(8, Perm.RW, 'v').start;
  const dv = space.view;
  const js = new Map<number, number>(); // baseline: one Map per prefix length, probed longest first
  const byLen = Array.from({ length: 33 }, () => new Map<number, number>());
  const mask = (l: number) => (l === 0 ? 0 : (0xffffffff << (32 - l)) >>> 0);
  for (let i = 0; i < n; i++) {
    const len = 8 + (rnd() % 25);
    const net = (rnd() & mask(len)) >>> 0;
    dv.setUint32(key, len, true);
    dv.setUint32(key + 4, net, false);
    m.update(key, value, 0, 0);
    byLen[len].set(net, i);
    js.set(net, len);
  }
  const ips = Uint32Array.from({ length: 1 << 16 }, () => rnd());
  const ipKeys = space.map(8 << 16, Perm.RW, 'ips').start;
  const dv2 = space.view; // mapping may have grown the memory: take the new view
  for (let i = 0; i < ips.length; i++) {
    dv2.setUint32(ipKeys + 8 * i, 32, true);
    dv2.setUint32(ipKeys + 8 * i + 4, ips[i], false);
  }
  let sink = 0;
  const lookup = time(() => {
    for (let i = 0; i < lookups; i++) sink += m.lookup(ipKeys + 8 * (i & 0xffff), 0);
  });
  const lookupJs = time(() => {
    for (let i = 0; i < lookups; i++) {
      const ip = ips[i & 0xffff];
      for (let l = 32; l >= 0; l--) {
        const v = byLen[l].get((ip & mask(l)) >>> 0);
        if (v !== undefined) {
          sink += v;
          break;
        }
      }
    }
  });
  if (sink === 0.5) console.log(sink);
  return [
    { name: 'LPM trie (10K) lookup', ops: lookups, mapSeconds: lookup, baselineSeconds: lookupJs, note: 'JS: a Map per prefix length' },
  ];
}

/** mapBenchmarks runs every map workload. */
export function mapBenchmarks(): MapBenchResult[] {
  return [
    ...arrayBench(10_000_000),
    ...hashBench(MapType.BPF_MAP_TYPE_HASH, 1024, 'hash (1K, 8B keys)', 5_000_000),
    ...hashBench(MapType.BPF_MAP_TYPE_HASH, 1_000_000, 'hash (1M, 8B keys)', 2_000_000),
    ...hashBench(MapType.BPF_MAP_TYPE_LRU_HASH, 1024, 'LRU hash (1K)', 5_000_000),
    ...lpmBench(2_000_000),
  ];
}
