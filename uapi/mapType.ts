/**
 * MapType: the `BPF_MAP_TYPE_*` ids of include/uapi/linux/bpf.h with the names bpftool
 * prints and accepts (`percpu_array`, `lpm_trie`, …).
 */
export const MapType = {
  BPF_MAP_TYPE_UNSPEC: 0,
  BPF_MAP_TYPE_HASH: 1,
  BPF_MAP_TYPE_ARRAY: 2,
  BPF_MAP_TYPE_PROG_ARRAY: 3,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY: 4,
  BPF_MAP_TYPE_PERCPU_HASH: 5,
  BPF_MAP_TYPE_PERCPU_ARRAY: 6,
  BPF_MAP_TYPE_STACK_TRACE: 7,
  BPF_MAP_TYPE_CGROUP_ARRAY: 8,
  BPF_MAP_TYPE_LRU_HASH: 9,
  BPF_MAP_TYPE_LRU_PERCPU_HASH: 10,
  BPF_MAP_TYPE_LPM_TRIE: 11,
  BPF_MAP_TYPE_ARRAY_OF_MAPS: 12,
  BPF_MAP_TYPE_HASH_OF_MAPS: 13,
  BPF_MAP_TYPE_DEVMAP: 14,
  BPF_MAP_TYPE_SOCKMAP: 15,
  BPF_MAP_TYPE_CPUMAP: 16,
  BPF_MAP_TYPE_XSKMAP: 17,
  BPF_MAP_TYPE_SOCKHASH: 18,
  BPF_MAP_TYPE_CGROUP_STORAGE: 19,
  BPF_MAP_TYPE_REUSEPORT_SOCKARRAY: 20,
  BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: 21,
  BPF_MAP_TYPE_QUEUE: 22,
  BPF_MAP_TYPE_STACK: 23,
  BPF_MAP_TYPE_SK_STORAGE: 24,
  BPF_MAP_TYPE_DEVMAP_HASH: 25,
  BPF_MAP_TYPE_STRUCT_OPS: 26,
  BPF_MAP_TYPE_RINGBUF: 27,
  BPF_MAP_TYPE_INODE_STORAGE: 28,
  BPF_MAP_TYPE_TASK_STORAGE: 29,
  BPF_MAP_TYPE_BLOOM_FILTER: 30,
  BPF_MAP_TYPE_USER_RINGBUF: 31,
  BPF_MAP_TYPE_CGRP_STORAGE: 32,
  BPF_MAP_TYPE_ARENA: 33,
} as const;

/** mapTypeEnumName returns a map type's kernel name (`BPF_MAP_TYPE_SOCKMAP`), or `map type N`. */
export function mapTypeEnumName(type: number): string {
  return Object.entries(MapType).find(([, v]) => v === type)?.[0] ?? `map type ${type}`;
}

/** mapTypeName returns bpftool's name for a map type id (`BPF_MAP_TYPE_LPM_TRIE` → `lpm_trie`). */
export function mapTypeName(type: number): string {
  const entry = Object.entries(MapType).find(([, v]) => v === type);
  if (!entry) return `type ${type}`;
  const n = entry[0].replace('BPF_MAP_TYPE_', '').toLowerCase();
  return n === 'cgrp_storage' ? 'cgrp_storage' : n;
}

/** mapTypeByName returns the id for a bpftool type name, or undefined. */
export function mapTypeByName(name: string): number | undefined {
  const key = `BPF_MAP_TYPE_${name.toUpperCase()}` as keyof typeof MapType;
  return key in MapType && key !== 'BPF_MAP_TYPE_UNSPEC' ? MapType[key] : undefined;
}

/** MapFlag: map flags (`map_flags` of BPF_MAP_CREATE). */
export const MapFlag = {
  BPF_F_NO_PREALLOC: 1 << 0,
  BPF_F_NO_COMMON_LRU: 1 << 1,
  BPF_F_NUMA_NODE: 1 << 2,
  BPF_F_RDONLY: 1 << 3,
  BPF_F_WRONLY: 1 << 4,
  BPF_F_STACK_BUILD_ID: 1 << 5,
  BPF_F_ZERO_SEED: 1 << 6,
  BPF_F_RDONLY_PROG: 1 << 7,
  BPF_F_WRONLY_PROG: 1 << 8,
  BPF_F_CLONE: 1 << 9,
  BPF_F_MMAPABLE: 1 << 10,
  BPF_F_PRESERVE_ELEMS: 1 << 11,
  BPF_F_INNER_MAP: 1 << 12,
  /** BPF_F_LINK: a struct_ops map registered through a link (BPF_LINK_CREATE), not by its update. */
  BPF_F_LINK: 1 << 13,
  /** BPF_F_VTYPE_BTF_OBJ_FD: a struct_ops value type from a module's BTF (value_type_btf_obj_fd). */
  BPF_F_VTYPE_BTF_OBJ_FD: 1 << 15,
} as const;

/** UpdateFlag: update flags (`flags` of BPF_MAP_UPDATE_ELEM). */
export const UpdateFlag = { BPF_ANY: 0, BPF_NOEXIST: 1, BPF_EXIST: 2, BPF_F_LOCK: 4 } as const;
