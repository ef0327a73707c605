import { MapType } from '../../uapi/mapType.js';
import { type Helper, argU32 as u32 } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';

/** PERCPU_MAPS: the map types bpf_map_lookup_percpu_elem takes (check_map_func_compatibility). */
const PERCPU_MAPS: readonly number[] = [
  MapType.BPF_MAP_TYPE_PERCPU_ARRAY,
  MapType.BPF_MAP_TYPE_PERCPU_HASH,
  MapType.BPF_MAP_TYPE_LRU_PERCPU_HASH,
];

/**
 * percpuLookupHelpers: bpf_map_lookup_percpu_elem (195) (kernel/bpf/helpers.c): a per-CPU map's
 * value for `key` in another CPU's slot, the map's map_lookup_percpu_elem: NULL for a cpu at or
 * past nr_cpu_ids (the CPUs bpfbox emulates, the map's ncpus) or a key that is not there. An
 * LRU hash marks the entry used, as a lookup does.
 */
export function percpuLookupHelpers(rt: HookRuntime): Helper[] {
  return [
    {
      id: 195,
      name: 'bpf_map_lookup_percpu_elem',
      fn: (map, key, cpu) => {
        const m = rt.views.get(u32(map));
        if (!PERCPU_MAPS.includes(m.type) || cpu >= BigInt(m.ncpus)) return 0n;
        return BigInt(m.lookup(u32(key), Number(cpu)));
      },
    },
  ];
}
