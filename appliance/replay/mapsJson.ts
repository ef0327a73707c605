import type { Kernel } from '../../maps/kernel.js';
import { MapType } from '../../maps/mapType.js';

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
/** Maps whose contents are not key/value data a summary shows: programs, ring buffers, perf events, queues and stacks, bloom filters. */
const LEFT_OUT: readonly number[] = [MapType.BPF_MAP_TYPE_PROG_ARRAY, MapType.BPF_MAP_TYPE_RINGBUF, MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  MapType.BPF_MAP_TYPE_QUEUE, MapType.BPF_MAP_TYPE_STACK, MapType.BPF_MAP_TYPE_BLOOM_FILTER, MapType.BPF_MAP_TYPE_USER_RINGBUF];
const PERCPU: readonly number[] = [MapType.BPF_MAP_TYPE_PERCPU_ARRAY, MapType.BPF_MAP_TYPE_PERCPU_HASH, MapType.BPF_MAP_TYPE_LRU_PERCPU_HASH];

/** MapsJson: {"NAME": {"HEXKEY": "HEXVALUE" or ["HEX per CPU", ...]}}. */
export type MapsJson = Record<string, Record<string, string | string[]>>;

/**
 * mapsJson dumps the loaded maps through the bpf() door (GET_NEXT_KEY, LOOKUP_ELEM), keys and
 * values in hex, per-CPU values as one string per CPU; map-of-maps values are inner map ids.
 */
export function mapsJson(k: Kernel, maps: ReadonlyMap<string, number>): MapsJson {
  const out: MapsJson = {};
  for (const [name, fd] of maps) {
    const obj = k.process.fds.get(fd)?.obj;
    if (!obj || obj.kind !== 'map' || LEFT_OUT.includes(obj.spec.type)) continue;
    const spec = obj.spec;
    const percpu = PERCPU.includes(spec.type);
    const stride = (spec.valueSize + 7) & ~7;
    const vsize = spec.type === MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS || spec.type === MapType.BPF_MAP_TYPE_HASH_OF_MAPS ? 4 : spec.valueSize;
    const entries: Record<string, string | string[]> = {};
    let key: Uint8Array | null = null;
    const next = new Uint8Array(spec.keySize);
    while (k.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: fd, key, next_key: next }) === 0) {
      key = next.slice();
      const value = new Uint8Array(percpu ? stride * k.ncpus : vsize);
      if (k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key, value }) !== 0) continue;
      entries[hex(key)] = percpu ? Array.from({ length: k.ncpus }, (_, c) => hex(value.subarray(c * stride, c * stride + spec.valueSize))) : hex(value);
    }
    out[name] = entries;
  }
  return out;
}
