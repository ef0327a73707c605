import type { AddressSpace } from '../vm/memory.js';
import { BpfMap, createDescriptor } from './bpfMap.js';
import { round8 } from './descriptor.js';
import { Errno, fail } from '../uapi/errno.js';
import { MapType, UpdateFlag } from '../uapi/mapType.js';
import type { MapSpec } from './spec.js';

/**
 * SlotArray holds the array-indexed maps whose slots can be empty: `PROG_ARRAY`,
 * `PERF_EVENT_ARRAY`, `ARRAY_OF_MAPS` (fd arrays), `DEVMAP`, `CPUMAP` and `XSKMAP` (whose
 * slots name AF_XDP sockets; bpfbox has none, so a slot holds any non-zero value given).
 *
 *   slot: [present u32][pad][value, round 8]
 *
 * What a slot holds is decided by the bpf() door: a program id for a prog array, an inner
 * map's descriptor address for a map of maps (so a program's lookup returns the inner map
 * itself, as the kernel's does), the value as given for the others. Fd arrays take only
 * BPF_ANY; devmap and cpumap refuse BPF_NOEXIST with EEXIST, as the kernel does.
 */
export class SlotArray extends BpfMap {
  readonly #stride: number;

  constructor(space: AddressSpace, desc: number) {
    super(space, desc);
    this.#stride = 8 + round8(this.valueSize);
  }

  static create(space: AddressSpace, spec: MapSpec, ncpus: number): SlotArray {
    const { desc } = createDescriptor(space, spec, ncpus, { storageBytes: spec.maxEntries * (8 + round8(spec.valueSize)) });
    return new SlotArray(space, desc);
  }

  get #fdArray(): boolean {
    return (
      this.type === MapType.BPF_MAP_TYPE_PROG_ARRAY ||
      this.type === MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY ||
      this.type === MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS ||
      this.type === MapType.BPF_MAP_TYPE_CGROUP_ARRAY
    );
  }

  #slot(i: number): number {
    return this.storage + i * this.#stride;
  }

  /** slotValue returns the u32 a slot holds (program id, descriptor address, ifindex), or 0. */
  slotValue(i: number): number {
    if (i >= this.maxEntries) return 0;
    const dv = this.space.view;
    return dv.getUint32(this.#slot(i), true) ? dv.getUint32(this.#slot(i) + 8, true) : 0;
  }

  override lookup(keyAddr: number): number {
    const i = this.space.view.getUint32(keyAddr, true);
    if (i >= this.maxEntries || this.space.view.getUint32(this.#slot(i), true) === 0) return 0;
    switch (this.type) {
      case MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS:
        return this.space.view.getUint32(this.#slot(i) + 8, true); // the inner map itself
      case MapType.BPF_MAP_TYPE_DEVMAP:
      case MapType.BPF_MAP_TYPE_CPUMAP:
        return this.#slot(i) + 8;
      default:
        return 0; // programs reach prog and perf event arrays only through their helpers
    }
  }

  override update(keyAddr: number, valueAddr: number, flags: number): number {
    if (this.#fdArray ? flags !== UpdateFlag.BPF_ANY : flags > UpdateFlag.BPF_EXIST) return -Errno.EINVAL;
    if (!this.#fdArray && flags === UpdateFlag.BPF_NOEXIST) return -Errno.EEXIST;
    const i = this.space.view.getUint32(keyAddr, true);
    if (i >= this.maxEntries) return -Errno.E2BIG;
    const at = this.#slot(i);
    this.space.u8.copyWithin(at + 8, valueAddr, valueAddr + this.valueSize);
    this.space.view.setUint32(at, 1, true);
    return 0;
  }

  override delete(keyAddr: number): number {
    const i = this.space.view.getUint32(keyAddr, true);
    if (i >= this.maxEntries) return this.#fdArray ? -Errno.E2BIG : -Errno.EINVAL;
    const at = this.#slot(i);
    const was = this.space.view.getUint32(at, true);
    this.space.view.setUint32(at, 0, true);
    return was || !this.#fdArray ? 0 : -Errno.ENOENT;
  }

  override lookupBytes(key: Uint8Array): Uint8Array {
    const i = this.#index(key);
    if (i >= this.maxEntries || this.space.view.getUint32(this.#slot(i), true) === 0) fail(Errno.ENOENT);
    return this.copyOut(this.#slot(i) + 8, this.valueSize);
  }

  override nextKey(key: Uint8Array | null): Uint8Array {
    const i = key === null ? -1 : this.#index(key);
    const next = i < 0 || i >= this.maxEntries ? 0 : i + 1;
    if (next >= this.maxEntries) fail(Errno.ENOENT);
    return Uint8Array.from([next & 0xff, (next >>> 8) & 0xff, (next >>> 16) & 0xff, next >>> 24]);
  }

  #index(key: Uint8Array): number {
    if (key.length !== 4) fail(Errno.EINVAL, `key is ${key.length} bytes, the map's are 4`);
    return new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
  }
}
