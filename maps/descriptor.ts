import type { AddressSpace } from '../vm/memory.js';

/**
 * The map descriptor: 64 bytes in the shared memory, at the address `lddw` with
 * BPF_PSEUDO_MAP_FD loads, so helpers and any thread can find the map from r1.
 *
 *   0 +-----------+-----------+-------------+-------------+
 *     | map_type  | key_size  | value_size  | max_entries |
 *  16 +-----------+-----------+-------------+-------------+
 *     | map_flags | id        | storage     | lock        |   storage: address of the data
 *  32 +-----------+-----------+-------------+-------------+   lock: map-level spinlock
 *     | count     | aux0      | aux1        | aux2        |   count: elements in use
 *  48 +-----------+-----------+-------------+-------------+   aux*: per type (buckets, …)
 *     | bytes     | ncpus     | map_extra   | stride      |   bytes: memory used (memlock)
 *  64 +-----------+-----------+-------------+-------------+
 */
export const Desc = {
  TYPE: 0,
  KEY_SIZE: 4,
  VALUE_SIZE: 8,
  MAX_ENTRIES: 12,
  FLAGS: 16,
  ID: 20,
  STORAGE: 24,
  LOCK: 28,
  COUNT: 32,
  AUX0: 36,
  AUX1: 40,
  AUX2: 44,
  BYTES: 48,
  NCPUS: 52,
  MAP_EXTRA: 56,
  STRIDE: 60,
} as const;

/** DESC_SIZE: bytes of one map descriptor. */
export const DESC_SIZE = 64;

/** readDesc reads a u32 field of the descriptor at `desc`. */
export function readDesc(space: AddressSpace, desc: number, field: number): number {
  return space.view.getUint32(desc + field, true);
}

/** writeDesc writes a u32 field of the descriptor at `desc`. */
export function writeDesc(space: AddressSpace, desc: number, field: number, value: number): void {
  space.view.setUint32(desc + field, value >>> 0, true);
}

/** round8 rounds a size up to a multiple of 8, as the kernel lays out values. */
export function round8(n: number): number {
  return (n + 7) & ~7;
}
