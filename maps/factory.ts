import type { AddressSpace } from '../vm/memory.js';
import { ArrayMap } from './array.js';
import { BloomFilter } from './bloomFilter.js';
import type { BpfMap } from './bpfMap.js';
import { Desc, readDesc } from './descriptor.js';
import { HashMap } from './hash.js';
import { LocalStorageMap } from './localStorage.js';
import { LpmTrie } from './lpmTrie.js';
import { MapType } from '../uapi/mapType.js';
import { QueueStack } from './queueStack.js';
import { RingBuf } from './ringbuf.js';
import { SlotArray } from './slotArray.js';
import { type MapSpec, checkSpec } from './spec.js';
import { UnbackedMap } from './unbackedMap.js';

type MapClass = {
  create(space: AddressSpace, spec: MapSpec, ncpus: number): BpfMap;
  new (space: AddressSpace, desc: number): BpfMap;
};

/** The implementation of each map type. */
const IMPLS: Readonly<Record<number, MapClass>> = {
  [MapType.BPF_MAP_TYPE_ARRAY]: ArrayMap,
  [MapType.BPF_MAP_TYPE_PERCPU_ARRAY]: ArrayMap,
  [MapType.BPF_MAP_TYPE_HASH]: HashMap,
  [MapType.BPF_MAP_TYPE_PERCPU_HASH]: HashMap,
  [MapType.BPF_MAP_TYPE_LRU_HASH]: HashMap,
  [MapType.BPF_MAP_TYPE_LRU_PERCPU_HASH]: HashMap,
  [MapType.BPF_MAP_TYPE_HASH_OF_MAPS]: HashMap,
  [MapType.BPF_MAP_TYPE_DEVMAP_HASH]: HashMap,
  [MapType.BPF_MAP_TYPE_LPM_TRIE]: LpmTrie,
  [MapType.BPF_MAP_TYPE_PROG_ARRAY]: SlotArray,
  [MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY]: SlotArray,
  [MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS]: SlotArray,
  [MapType.BPF_MAP_TYPE_DEVMAP]: SlotArray,
  [MapType.BPF_MAP_TYPE_CPUMAP]: SlotArray,
  [MapType.BPF_MAP_TYPE_XSKMAP]: SlotArray,
  [MapType.BPF_MAP_TYPE_CGROUP_ARRAY]: SlotArray,
  [MapType.BPF_MAP_TYPE_QUEUE]: QueueStack,
  [MapType.BPF_MAP_TYPE_STACK]: QueueStack,
  [MapType.BPF_MAP_TYPE_BLOOM_FILTER]: BloomFilter,
  [MapType.BPF_MAP_TYPE_RINGBUF]: RingBuf,
  [MapType.BPF_MAP_TYPE_USER_RINGBUF]: UnbackedMap,
  [MapType.BPF_MAP_TYPE_SOCKMAP]: UnbackedMap,
  [MapType.BPF_MAP_TYPE_SOCKHASH]: UnbackedMap,
  [MapType.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY]: UnbackedMap,
  [MapType.BPF_MAP_TYPE_SK_STORAGE]: UnbackedMap,
  [MapType.BPF_MAP_TYPE_CGROUP_STORAGE]: UnbackedMap,
  [MapType.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE]: UnbackedMap,
  [MapType.BPF_MAP_TYPE_TASK_STORAGE]: LocalStorageMap,
  [MapType.BPF_MAP_TYPE_CGRP_STORAGE]: LocalStorageMap,
  // the value's bytes live beside the map (kernel/structOps/mapState.ts); the array gives get_next_key
  [MapType.BPF_MAP_TYPE_STRUCT_OPS]: ArrayMap,
};

/** createMap validates `spec` (throwing the kernel's errno) and creates the map in `space`. */
export function createMap(space: AddressSpace, spec: MapSpec, ncpus: number): BpfMap {
  checkSpec(spec);
  return IMPLS[spec.type].create(space, spec, ncpus);
}

/** attachMap returns a view of the map whose descriptor is at `desc` (any thread). */
export function attachMap(space: AddressSpace, desc: number): BpfMap {
  const impl = IMPLS[readDesc(space, desc, Desc.TYPE)];
  if (!impl) throw new RangeError(`no map descriptor at 0x${desc.toString(16)}`);
  return new impl(space, desc);
}
