import type { Kernel } from '../../kernel/kernel.js';
import { MapType } from '../../uapi/mapType.js';
import { ArrayMap } from '../../maps/array.js';
import { type MapElementJson, elementJson } from './mapElement.js';
import { isPerCpu, mapEntries } from './mapEntries.js';

/** Maps whose contents are not key/value data a summary shows: programs, ring buffers, perf events, queues and stacks, bloom filters. */
const LEFT_OUT: readonly number[] = [
  MapType.BPF_MAP_TYPE_PROG_ARRAY,
  MapType.BPF_MAP_TYPE_RINGBUF,
  MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  MapType.BPF_MAP_TYPE_QUEUE,
  MapType.BPF_MAP_TYPE_STACK,
  MapType.BPF_MAP_TYPE_BLOOM_FILTER,
  MapType.BPF_MAP_TYPE_USER_RINGBUF,
];

/** Maps of maps hold inner map ids: their BTF value type is a pointer array, not what the element holds. */
const OF_MAPS: readonly number[] = [MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS, MapType.BPF_MAP_TYPE_HASH_OF_MAPS];

/** MapsJson: {"NAME": [element, …]}, each map's elements in map order as `bpftool map dump -j` prints them (see MapElementJson). */
export type MapsJson = Record<string, MapElementJson[]>;

/**
 * LARGE_ARRAY: above this many entries an array is dumped sparsely (only values not zero on
 * some CPU): katran's ch_rings has 33,554,944 entries and server_id_map 16,777,214, which would
 * not fit in the heap, and a new array is zero, so what is left out is only what no one set.
 * Smaller arrays list every entry, as `bpftool map dump` does.
 */
export const LARGE_ARRAY = 1 << 16;

/**
 * mapsJson dumps the loaded maps as `bpftool map dump -j` does, one array per map in the order
 * GET_NEXT_KEY walks it (an array's by index): hex bytes, and typed values ("formatted") where
 * BTF describes the map, rendered by the same code as `bpfbox map dump`.
 */
export function mapsJson(k: Kernel, maps: ReadonlyMap<string, number>): MapsJson {
  const out: MapsJson = {};
  for (const [name, fd] of maps) {
    const obj = k.process.fds.get(fd)?.obj;
    if (!obj || obj.kind !== 'map' || LEFT_OUT.includes(obj.spec.type)) continue;
    const ofMaps = OF_MAPS.includes(obj.spec.type);
    const layout = {
      bytes_value: ofMaps ? 4 : obj.spec.valueSize,
      percpu: isPerCpu(obj.spec.type),
      ncpus: k.ncpus,
      btf: ofMaps ? undefined : obj.spec.btf,
    };
    if (obj.map instanceof ArrayMap && obj.spec.maxEntries > LARGE_ARRAY) {
      const stride = (obj.spec.valueSize + 7) & ~7;
      out[name] = Array.from(obj.map.setEntries(), ([key, v]) =>
        elementJson(
          layout,
          key,
          Array.from({ length: layout.percpu ? v.length / stride : 1 }, (_, c) => v.subarray(c * stride, c * stride + obj.spec.valueSize)),
        ),
      );
      continue;
    }
    out[name] = mapEntries(k, fd, obj).map(([key, values]) => elementJson(layout, key, values));
  }
  return out;
}
