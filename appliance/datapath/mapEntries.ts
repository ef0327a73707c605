import type { Kernel } from '../../kernel/kernel.js';
import { MapType } from '../../uapi/mapType.js';
import type { MapObject } from '../../kernel/objects.js';

const PERCPU: readonly number[] = [
  MapType.BPF_MAP_TYPE_PERCPU_ARRAY,
  MapType.BPF_MAP_TYPE_PERCPU_HASH,
  MapType.BPF_MAP_TYPE_LRU_PERCPU_HASH,
];

/** isPerCpu: whether a map keeps one value per CPU. */
export const isPerCpu = (type: number): boolean => PERCPU.includes(type);

/**
 * mapEntries reads a map through the bpf() door (GET_NEXT_KEY, then LOOKUP_ELEM): each key
 * with its value per CPU (one element for a map that is not per-CPU). A map of maps gives
 * the inner map ids (4 bytes).
 */
export function mapEntries(k: Kernel, fd: number, obj: MapObject): [Uint8Array, Uint8Array[]][] {
  const spec = obj.spec;
  const percpu = isPerCpu(spec.type);
  const stride = (spec.valueSize + 7) & ~7;
  const size = spec.type === MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS || spec.type === MapType.BPF_MAP_TYPE_HASH_OF_MAPS ? 4 : spec.valueSize;
  const out: [Uint8Array, Uint8Array[]][] = [];
  let key: Uint8Array | null = null;
  const next = new Uint8Array(spec.keySize);
  while (k.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: fd, key, next_key: next }) === 0) {
    key = next.slice();
    const value = new Uint8Array(percpu ? stride * k.ncpus : size);
    if (k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key, value }) !== 0) continue;
    out.push([key, percpu ? Array.from({ length: k.ncpus }, (_, c) => value.subarray(c * stride, c * stride + spec.valueSize)) : [value]]);
  }
  return out;
}
