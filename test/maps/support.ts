import { AddressSpace } from '../../vm/memory.js';
import { createMap } from '../../maps/factory.js';
import type { BpfMap } from '../../maps/bpfMap.js';
import type { MapSpec } from '../../maps/spec.js';
import { BpfErrno } from '../../uapi/errno.js';

/** newMap creates a map in a fresh address space with `ncpus` CPUs. */
export function newMap(spec: MapSpec, ncpus = 2): BpfMap {
  return createMap(new AddressSpace({ initialBytes: 1 << 20 }), spec, ncpus);
}

/** le32 encodes a u32 little-endian; le64 a u64. */
export const le32 = (n: number) => Uint8Array.from([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]);
export const le64 = (n: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, n), true);
  return b;
};
export const u32of = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0, true);

/** errnoOf runs `fn` and returns the errno it failed with, or 0. */
export function errnoOf(fn: () => unknown): number {
  try {
    fn();
    return 0;
  } catch (e) {
    if (e instanceof BpfErrno) return e.errno;
    throw e;
  }
}
