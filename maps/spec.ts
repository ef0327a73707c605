import { Errno, fail } from '../uapi/errno.js';
import { MapFlag, MapType, mapTypeEnumName } from '../uapi/mapType.js';
import type { MapBtf } from './typeDesc.js';
import { KPTR_MAPS, KPTR_REF_STRUCTS, kptrFields, specialField } from './specialFields.js';

/**
 * MapSpec is a map as plain data (cilium/ebpf's MapSpec): what BPF_MAP_CREATE takes.
 * `innerMap` describes the maps a map-of-maps holds; `mapExtra` is the bloom filter's
 * number of hash functions (0 means the kernel's default, 5).
 */
export interface MapSpec {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags?: number;
  readonly name?: string;
  readonly mapExtra?: number;
  readonly innerMap?: MapSpec;
  /** The key and value types, when BTF described them (bpftool's formatted output). */
  readonly btf?: MapBtf;
}

/** BPF_OBJ_NAME_LEN: names hold at most 15 characters and a NUL. */
export const BPF_OBJ_NAME_LEN = 16;

/** A hash map's value must fit a kmalloc'd element (KMALLOC_MAX_SIZE, 4 MiB on x86). */
const MAX_HASH_VALUE_SIZE = (1 << 22) - 512 - 64;
/** Any value: round_up(value_size, 8) must not overflow an int. */
const MAX_VALUE_SIZE = 0x7fffffff;

/**
 * BPF_LOCAL_STORAGE_MAX_VALUE_SIZE: U16_MAX less sizeof(struct bpf_local_storage_elem) (128 on
 * x86-64 6.18, found by creating cgroup storages in the running kernel); a per-CPU cgroup
 * storage at most PCPU_MIN_UNIT_SIZE (32 KiB).
 */
const LOCAL_STORAGE_MAX_VALUE_SIZE = 0xffff - 128;
const PCPU_MIN_UNIT_SIZE = 32 << 10;
/** MAX_BPF_STACK: a sockhash key is at most a stack's worth. */
const MAX_BPF_STACK = 512;

/** LPM_DATA_SIZE_MAX: an LPM trie key holds at most 256 bytes of data after its prefix length. */
const LPM_DATA_SIZE_MAX = 256;

type Rule = {
  /** Flags this type accepts. */
  readonly flags: number;
  /** Key size: exactly this, or any (undefined). */
  readonly key?: number;
  /** Value size: exactly this, or any (undefined). */
  readonly value?: number;
  /** max_entries must be 0: local storages hold one element per socket or cgroup, not a count. */
  readonly noEntries?: true;
};

const F = MapFlag;
const ACCESS = F.BPF_F_RDONLY | F.BPF_F_WRONLY | F.BPF_F_NUMA_NODE;
const PROG_ACCESS = F.BPF_F_RDONLY_PROG | F.BPF_F_WRONLY_PROG;

/** Per-type creation rules (kernel/bpf/*.c `*_map_alloc_check`). */
const RULES: Readonly<Record<number, Rule>> = {
  [MapType.BPF_MAP_TYPE_HASH]: { flags: ACCESS | PROG_ACCESS | F.BPF_F_NO_PREALLOC | F.BPF_F_ZERO_SEED },
  [MapType.BPF_MAP_TYPE_PERCPU_HASH]: { flags: ACCESS | PROG_ACCESS | F.BPF_F_NO_PREALLOC | F.BPF_F_ZERO_SEED },
  [MapType.BPF_MAP_TYPE_LRU_HASH]: { flags: ACCESS | PROG_ACCESS | F.BPF_F_NO_COMMON_LRU | F.BPF_F_ZERO_SEED },
  [MapType.BPF_MAP_TYPE_LRU_PERCPU_HASH]: { flags: ACCESS | PROG_ACCESS | F.BPF_F_NO_COMMON_LRU | F.BPF_F_ZERO_SEED },
  [MapType.BPF_MAP_TYPE_ARRAY]: { flags: ACCESS | PROG_ACCESS | F.BPF_F_MMAPABLE | F.BPF_F_INNER_MAP, key: 4 },
  [MapType.BPF_MAP_TYPE_PERCPU_ARRAY]: { flags: ACCESS | PROG_ACCESS, key: 4 },
  [MapType.BPF_MAP_TYPE_PROG_ARRAY]: { flags: ACCESS, key: 4, value: 4 },
  [MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY]: { flags: ACCESS | F.BPF_F_PRESERVE_ELEMS, key: 4, value: 4 },
  [MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS]: { flags: ACCESS, key: 4, value: 4 },
  [MapType.BPF_MAP_TYPE_HASH_OF_MAPS]: { flags: ACCESS | F.BPF_F_NO_PREALLOC, value: 4 },
  [MapType.BPF_MAP_TYPE_DEVMAP]: { flags: ACCESS, key: 4 },
  [MapType.BPF_MAP_TYPE_DEVMAP_HASH]: { flags: ACCESS, key: 4 },
  [MapType.BPF_MAP_TYPE_CPUMAP]: { flags: ACCESS, key: 4 },
  [MapType.BPF_MAP_TYPE_XSKMAP]: { flags: ACCESS, key: 4, value: 4 },
  [MapType.BPF_MAP_TYPE_LPM_TRIE]: { flags: ACCESS | PROG_ACCESS | F.BPF_F_NO_PREALLOC },
  [MapType.BPF_MAP_TYPE_QUEUE]: { flags: ACCESS | PROG_ACCESS, key: 0 },
  [MapType.BPF_MAP_TYPE_STACK]: { flags: ACCESS | PROG_ACCESS, key: 0 },
  [MapType.BPF_MAP_TYPE_RINGBUF]: { flags: ACCESS, key: 0, value: 0 },
  [MapType.BPF_MAP_TYPE_BLOOM_FILTER]: { flags: ACCESS | PROG_ACCESS, key: 0 },
  // slots of cgroup fds: created and read as the kernel's; no fd here is a cgroup, so updates are EBADF
  [MapType.BPF_MAP_TYPE_CGROUP_ARRAY]: { flags: ACCESS, key: 4, value: 4 },
  // kernel objects bpfbox has none of (unbackedMap.ts): created as the kernel's, they hold nothing
  [MapType.BPF_MAP_TYPE_USER_RINGBUF]: { flags: F.BPF_F_NUMA_NODE, key: 0, value: 0 }, // RINGBUF_CREATE_FLAG_MASK
  [MapType.BPF_MAP_TYPE_SOCKMAP]: { flags: ACCESS, key: 4 }, // sock_map_alloc: SOCK_CREATE_FLAG_MASK
  [MapType.BPF_MAP_TYPE_SOCKHASH]: { flags: ACCESS }, // sock_hash_alloc
  [MapType.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY]: { flags: ACCESS | PROG_ACCESS | F.BPF_F_INNER_MAP, key: 4 }, // array_map_alloc_check
  [MapType.BPF_MAP_TYPE_SK_STORAGE]: { flags: F.BPF_F_NO_PREALLOC | F.BPF_F_CLONE, key: 4, noEntries: true }, // BPF_LOCAL_STORAGE_CREATE_FLAG_MASK
  [MapType.BPF_MAP_TYPE_TASK_STORAGE]: { flags: F.BPF_F_NO_PREALLOC | F.BPF_F_CLONE, key: 4, noEntries: true }, // a pidfd's task's (localStorage.ts)
  [MapType.BPF_MAP_TYPE_CGRP_STORAGE]: { flags: F.BPF_F_NO_PREALLOC | F.BPF_F_CLONE, key: 4, noEntries: true }, // a cgroup fd's cgroup's
  [MapType.BPF_MAP_TYPE_CGROUP_STORAGE]: { flags: ACCESS | PROG_ACCESS, noEntries: true }, // LOCAL_STORAGE_CREATE_FLAG_MASK
  [MapType.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE]: { flags: ACCESS | PROG_ACCESS, noEntries: true },
  // one value, a kernel struct of programs (bpf_struct_ops_map_alloc_check; the value type is kernel/structOps' to check)
  [MapType.BPF_MAP_TYPE_STRUCT_OPS]: { flags: F.BPF_F_LINK | F.BPF_F_VTYPE_BTF_OBJ_FD, key: 4 },
};

/** supportedMapTypes lists the map types bpfbox implements. */
export const supportedMapTypes: readonly number[] = Object.keys(RULES).map(Number);

/**
 * MAP_FLAGS_ADDED: flags a map type adds to what its creator asked for. DEVMAP, DEVMAP_HASH
 * (dev_map_init_map) and CPUMAP (cpu_map_alloc) are BPF_F_RDONLY_PROG: a program's lookup
 * gets a pointer to the entry itself, which it may not write.
 */
export const MAP_FLAGS_ADDED: Readonly<Partial<Record<number, number>>> = {
  [MapType.BPF_MAP_TYPE_DEVMAP]: F.BPF_F_RDONLY_PROG,
  [MapType.BPF_MAP_TYPE_DEVMAP_HASH]: F.BPF_F_RDONLY_PROG,
  [MapType.BPF_MAP_TYPE_CPUMAP]: F.BPF_F_RDONLY_PROG,
};

/**
 * checkSpec validates a MapSpec as BPF_MAP_CREATE does, throwing the kernel's errno:
 * EINVAL for a bad type, size, flag or count, E2BIG for an absurd value size. `added`: the
 * flags MAP_FLAGS_ADDED gives the type are allowed (a created map has them).
 */
export function checkSpec(s: MapSpec, added = true): void {
  const rule = RULES[s.type];
  if (!rule) {
    // a type the kernel has and bpfbox does not model: ENOTSUPP naming it; an unknown number: EINVAL, as the kernel's
    const name = mapTypeEnumName(s.type);
    if (name.startsWith('BPF_') && s.type !== MapType.BPF_MAP_TYPE_UNSPEC) fail(Errno.ENOTSUPP, `${name} maps are not supported by bpfbox`);
    fail(Errno.EINVAL, `map type ${s.type} is not a kernel map type`);
  }
  const flags = s.flags ?? 0;
  for (const v of [s.keySize, s.valueSize, s.maxEntries, flags]) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) fail(Errno.EINVAL, 'sizes and flags are u32');
  }
  const valid = rule.flags | (added ? (MAP_FLAGS_ADDED[s.type] ?? 0) : 0);
  if (flags & ~valid) fail(Errno.EINVAL, `flags 0x${(flags & ~valid).toString(16)} are not valid for this map type`);
  if (flags & F.BPF_F_RDONLY && flags & F.BPF_F_WRONLY) fail(Errno.EINVAL, 'BPF_F_RDONLY and BPF_F_WRONLY together');
  if (flags & F.BPF_F_RDONLY_PROG && flags & F.BPF_F_WRONLY_PROG) fail(Errno.EINVAL, 'BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together');
  if (rule.noEntries ? s.maxEntries !== 0 : s.maxEntries === 0)
    fail(Errno.EINVAL, rule.noEntries ? 'max_entries must be 0' : 'max_entries is 0');
  if (s.name !== undefined && (s.name.length >= BPF_OBJ_NAME_LEN || !/^[A-Za-z0-9_.]*$/.test(s.name))) {
    fail(Errno.EINVAL, `name '${s.name}': at most 15 of [A-Za-z0-9_.]`);
  }
  if (rule.key !== undefined && s.keySize !== rule.key) fail(Errno.EINVAL, `key size must be ${rule.key}`);
  if (rule.value !== undefined && s.valueSize !== rule.value) fail(Errno.EINVAL, `value size must be ${rule.value}`);
  if (s.valueSize > MAX_VALUE_SIZE) fail(Errno.E2BIG, 'value too large');
  switch (s.type) {
    case MapType.BPF_MAP_TYPE_HASH:
    case MapType.BPF_MAP_TYPE_PERCPU_HASH:
    case MapType.BPF_MAP_TYPE_LRU_HASH:
    case MapType.BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case MapType.BPF_MAP_TYPE_HASH_OF_MAPS:
      if (s.keySize === 0 || s.valueSize === 0) fail(Errno.EINVAL, 'key and value sizes must be positive');
      if (s.keySize > 512) fail(Errno.E2BIG, 'key too large');
      if (s.valueSize >= MAX_HASH_VALUE_SIZE) fail(Errno.E2BIG, 'value too large');
      break;
    case MapType.BPF_MAP_TYPE_ARRAY:
    case MapType.BPF_MAP_TYPE_PERCPU_ARRAY:
    case MapType.BPF_MAP_TYPE_QUEUE:
    case MapType.BPF_MAP_TYPE_STACK:
    case MapType.BPF_MAP_TYPE_BLOOM_FILTER:
      if (s.valueSize === 0) fail(Errno.EINVAL, 'value size must be positive');
      break;
    case MapType.BPF_MAP_TYPE_LPM_TRIE:
      if (!(flags & F.BPF_F_NO_PREALLOC)) fail(Errno.EINVAL, 'an LPM trie needs BPF_F_NO_PREALLOC');
      if (s.keySize <= 4 || s.keySize > 4 + LPM_DATA_SIZE_MAX || s.valueSize === 0)
        fail(Errno.EINVAL, 'LPM key is {u32 prefixlen; 1..256 bytes}');
      break;
    case MapType.BPF_MAP_TYPE_RINGBUF:
    case MapType.BPF_MAP_TYPE_USER_RINGBUF:
      if (s.maxEntries < 4096 || (s.maxEntries & (s.maxEntries - 1)) !== 0)
        fail(Errno.EINVAL, 'ring buffer size must be a power of 2 of at least a page');
      break;
    case MapType.BPF_MAP_TYPE_DEVMAP:
    case MapType.BPF_MAP_TYPE_DEVMAP_HASH:
      if (s.valueSize !== 4 && s.valueSize !== 8) fail(Errno.EINVAL, 'devmap value is an ifindex (4) or struct bpf_devmap_val (8)');
      break;
    case MapType.BPF_MAP_TYPE_CPUMAP:
      if (s.valueSize !== 4 && s.valueSize !== 8) fail(Errno.EINVAL, 'cpumap value is a queue size (4) or struct bpf_cpumap_val (8)');
      break;
    case MapType.BPF_MAP_TYPE_SOCKMAP:
    case MapType.BPF_MAP_TYPE_SOCKHASH:
    case MapType.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY:
      if (s.keySize === 0) fail(Errno.EINVAL, 'key size must be positive');
      if (s.valueSize !== 4 && s.valueSize !== 8) fail(Errno.EINVAL, 'value is a socket fd (4) or cookie (8)');
      if (s.keySize > MAX_BPF_STACK) fail(Errno.E2BIG, 'key too large');
      break;
    case MapType.BPF_MAP_TYPE_STRUCT_OPS:
      if (s.maxEntries !== 1) fail(Errno.EINVAL, 'a struct_ops map has one entry');
      break;
    case MapType.BPF_MAP_TYPE_TASK_STORAGE:
    case MapType.BPF_MAP_TYPE_CGRP_STORAGE:
    case MapType.BPF_MAP_TYPE_SK_STORAGE:
      // bpf_local_storage_map_alloc_check: BPF_F_NO_PREALLOC required (storage is allocated per owner, never in advance)
      if (s.type !== MapType.BPF_MAP_TYPE_SK_STORAGE && !(flags & F.BPF_F_NO_PREALLOC))
        fail(Errno.EINVAL, 'local storage needs BPF_F_NO_PREALLOC');
      // BTF is required (bpf_local_storage_map_alloc_check, "for userspace sk dumping"), its key an int
      if (s.valueSize === 0 || !s.btf?.key || !s.btf.value) fail(Errno.EINVAL, 'socket storage needs BTF for its key and value');
      if (s.btf.key.k !== 'int' || s.btf.key.size !== 4) fail(Errno.EINVAL, 'socket storage key must be an int');
      if (s.valueSize > LOCAL_STORAGE_MAX_VALUE_SIZE) fail(Errno.E2BIG, 'value too large');
      break;
    case MapType.BPF_MAP_TYPE_CGROUP_STORAGE:
    case MapType.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: {
      // cgroup_storage_map_alloc: a u64 cgroup id or struct bpf_cgroup_storage_key {u64 cgroup_inode_id; u32 attach_type;}
      if (s.keySize !== 8 && s.keySize !== 16) fail(Errno.EINVAL, 'cgroup storage key is a u64 or struct bpf_cgroup_storage_key');
      if (s.valueSize === 0) fail(Errno.EINVAL, 'value size must be positive');
      const percpu = s.type === MapType.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
      if (s.valueSize > (percpu ? PCPU_MIN_UNIT_SIZE : LOCAL_STORAGE_MAX_VALUE_SIZE)) fail(Errno.E2BIG, 'value too large');
      break;
    }
  }
  if ((s.type === MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS || s.type === MapType.BPF_MAP_TYPE_HASH_OF_MAPS) && !s.innerMap) {
    fail(Errno.EINVAL, 'a map of maps needs an inner map');
  }
  // map_check_btf: a struct bpf_timer only in a hash, LRU hash or array's value
  const timerMaps: readonly number[] = [MapType.BPF_MAP_TYPE_HASH, MapType.BPF_MAP_TYPE_LRU_HASH, MapType.BPF_MAP_TYPE_ARRAY];
  if (specialField(s.btf?.value, 'bpf_timer') !== undefined && !timerMaps.includes(s.type))
    fail(Errno.EOPNOTSUPP, 'a struct bpf_timer may be in the value of a hash, LRU hash or array only');
  // map_check_btf: kptrs only in the map types that free them with their elements
  if (kptrFields(s.btf?.value).length && !KPTR_MAPS.includes(s.type))
    fail(Errno.EOPNOTSUPP, 'a kptr may be in the value of a hash, array or local storage map only');
  for (const f of kptrFields(s.btf?.value))
    if (f.tag === 'percpu_kptr' || (f.tag === 'kptr' && !KPTR_REF_STRUCTS.includes(f.struct)))
      fail(Errno.EOPNOTSUPP, `bpfbox models referenced kptrs to ${KPTR_REF_STRUCTS.join(' and ')} only, not struct ${f.struct || '?'}`);
  if (s.type === MapType.BPF_MAP_TYPE_BLOOM_FILTER && (s.mapExtra ?? 0) > 15) fail(Errno.EINVAL, 'bloom filter: at most 15 hash functions');
}
