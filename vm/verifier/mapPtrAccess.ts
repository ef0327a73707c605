import { MapType as M } from '../../uapi/mapType.js';
import type { MapInfo } from './state.js';
import { refuse, unsupported } from './refuse.js';

/**
 * MAP_STRUCT: the struct each map type's ops name as its map_btf_id (the vmlinux type a
 * CONST_PTR_TO_MAP is read as, `struct bpf_map` its first member), for the log's messages.
 */
const MAP_STRUCT: Readonly<Record<number, string>> = {
  [M.BPF_MAP_TYPE_HASH]: 'bpf_htab',
  [M.BPF_MAP_TYPE_PERCPU_HASH]: 'bpf_htab',
  [M.BPF_MAP_TYPE_LRU_HASH]: 'bpf_htab',
  [M.BPF_MAP_TYPE_LRU_PERCPU_HASH]: 'bpf_htab',
  [M.BPF_MAP_TYPE_HASH_OF_MAPS]: 'bpf_htab',
  [M.BPF_MAP_TYPE_ARRAY]: 'bpf_array',
  [M.BPF_MAP_TYPE_PERCPU_ARRAY]: 'bpf_array',
  [M.BPF_MAP_TYPE_PROG_ARRAY]: 'bpf_array',
  [M.BPF_MAP_TYPE_PERF_EVENT_ARRAY]: 'bpf_array',
  [M.BPF_MAP_TYPE_CGROUP_ARRAY]: 'bpf_array',
  [M.BPF_MAP_TYPE_ARRAY_OF_MAPS]: 'bpf_array',
  [M.BPF_MAP_TYPE_LPM_TRIE]: 'lpm_trie',
  [M.BPF_MAP_TYPE_DEVMAP]: 'bpf_dtab',
  [M.BPF_MAP_TYPE_DEVMAP_HASH]: 'bpf_dtab',
  [M.BPF_MAP_TYPE_CPUMAP]: 'bpf_cpu_map',
  [M.BPF_MAP_TYPE_XSKMAP]: 'xsk_map',
  [M.BPF_MAP_TYPE_QUEUE]: 'bpf_queue_stack',
  [M.BPF_MAP_TYPE_STACK]: 'bpf_queue_stack',
  [M.BPF_MAP_TYPE_RINGBUF]: 'bpf_ringbuf_map',
  [M.BPF_MAP_TYPE_USER_RINGBUF]: 'bpf_ringbuf_map',
  [M.BPF_MAP_TYPE_BLOOM_FILTER]: 'bpf_bloom_filter',
  [M.BPF_MAP_TYPE_SOCKMAP]: 'bpf_stab',
  [M.BPF_MAP_TYPE_SOCKHASH]: 'bpf_shtab',
  [M.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY]: 'reuseport_array',
  [M.BPF_MAP_TYPE_SK_STORAGE]: 'bpf_local_storage_map',
  [M.BPF_MAP_TYPE_CGROUP_STORAGE]: 'bpf_cgroup_storage_map',
  [M.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE]: 'bpf_cgroup_storage_map',
};

/**
 * mapPtrAccess: check_ptr_to_map_access (kernel/bpf/verifier.c) for a privileged loader: an
 * access through a map pointer reads the map's kernel struct through BTF; a negative offset
 * and any write are refused, naming that struct. What a read at a field gives (a scalar, or a
 * PTR_TO_BTF_ID for `ops` and the other pointers) takes vmlinux's layout of struct bpf_map,
 * which bpfbox's verifier does not have: such reads are refused as unmodelled.
 */
export function mapPtrAccess(m: MapInfo, r: number, off: number, write: boolean): never {
  const name = MAP_STRUCT[m.type ?? -1];
  if (name === undefined) return unsupported(`loads of struct bpf_map fields through a map pointer (map type ${m.type})`);
  if (off < 0) return refuse(`R${r} is ${name} invalid negative access: off=${off}`);
  if (write) return refuse(`only read from ${name} is supported`);
  return unsupported('loads of struct bpf_map fields through a map pointer');
}
