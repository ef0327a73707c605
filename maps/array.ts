import type { AddressSpace } from '../vm/memory.js';
import { Perm } from '../vm/memory.js';
import { BpfMap, createDescriptor } from './bpfMap.js';
import { Desc, readDesc, round8, writeDesc } from './descriptor.js';
import { Errno, fail } from './errno.js';
import { MapFlag, MapType, UpdateFlag } from './mapType.js';
import type { MapSpec } from './spec.js';

/**
 * ArrayMap is `BPF_MAP_TYPE_ARRAY` and `BPF_MAP_TYPE_PERCPU_ARRAY`: preallocated, zeroed
 * values indexed by a u32 key; delete is EINVAL; BPF_F_RDONLY_PROG maps the values
 * read-only for programs.
 *
 *   storage: [value 0][value 1]...   each slot round_up(value_size, 8) bytes,
 *                                    times ncpus for the per-CPU array (cpu-major per key)
 */
export class ArrayMap extends BpfMap {
  readonly #slot: number;
  readonly #stride: number;

  constructor(space: AddressSpace, desc: number) {
    super(space, desc);
    this.#slot = round8(this.valueSize);
    this.#stride = readDesc(space, desc, Desc.STRIDE);
  }

  static create(space: AddressSpace, spec: MapSpec, ncpus: number): ArrayMap {
    const percpu = spec.type === MapType.BPF_MAP_TYPE_PERCPU_ARRAY;
    const stride = round8(spec.valueSize) * (percpu ? ncpus : 1);
    const perm = (spec.flags ?? 0) & MapFlag.BPF_F_RDONLY_PROG ? Perm.READ : Perm.RW;
    if (stride * spec.maxEntries > 0x4000_0000) fail(Errno.ENOMEM, 'array larger than the address space allows');
    const { desc } = createDescriptor(space, spec, ncpus, { storageBytes: stride * spec.maxEntries, storagePerm: perm });
    writeDesc(space, desc, Desc.STRIDE, stride);
    return new ArrayMap(space, desc);
  }

  override get percpu(): boolean {
    return this.type === MapType.BPF_MAP_TYPE_PERCPU_ARRAY;
  }

  /** layout: where values live, for a JIT that inlines lookups (value i at storage + i * stride + offset). */
  layout(cpu: number): { storage: number; stride: number; offset: number; maxEntries: number } {
    return { storage: this.storage, stride: this.#stride, offset: this.percpu ? cpu * this.#slot : 0, maxEntries: this.maxEntries };
  }

  /** valueAddr returns where index `i`'s value for `cpu` lives. */
  valueAddr(i: number, cpu: number): number {
    return this.storage + i * this.#stride + (this.percpu ? cpu * this.#slot : 0);
  }

  override lookup(keyAddr: number, cpu: number): number {
    const i = this.space.view.getUint32(keyAddr, true);
    return i < this.maxEntries ? this.storage + i * this.#stride + (this.percpu ? cpu * this.#slot : 0) : 0;
  }

  override update(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    if (flags > UpdateFlag.BPF_F_LOCK) return -Errno.EINVAL;
    const i = this.space.view.getUint32(keyAddr, true);
    if (i >= this.maxEntries) return -Errno.E2BIG;
    if ((flags & 3) === UpdateFlag.BPF_NOEXIST) return -Errno.EEXIST;
    const u8 = this.space.u8;
    if (this.percpu && cpu < 0) {
      // userspace: one round_up(value_size, 8) slot per CPU
      u8.copyWithin(this.storage + i * this.#stride, valueAddr, valueAddr + this.#stride);
    } else {
      const at = this.storage + i * this.#stride + (this.percpu ? cpu * this.#slot : 0);
      u8.copyWithin(at, valueAddr, valueAddr + this.valueSize);
    }
    return 0;
  }

  override forEachElem(fn: (keyAddr: number, valueAddr: number) => boolean, cpu: number, keyScratch: number): number {
    let n = 0;
    for (let i = 0; i < this.maxEntries; i++) {
      this.space.view.setUint32(keyScratch, i, true);
      n++;
      if (fn(keyScratch, this.valueAddr(i, cpu))) break;
    }
    return n;
  }

  override delete(): number {
    return -Errno.EINVAL;
  }

  override lookupBytes(key: Uint8Array): Uint8Array {
    const i = this.#index(key);
    if (i >= this.maxEntries) fail(Errno.ENOENT);
    if (!this.percpu) return this.copyOut(this.storage + i * this.#stride, this.valueSize);
    return this.copyOut(this.storage + i * this.#stride, this.#stride);
  }

  override nextKey(key: Uint8Array | null): Uint8Array {
    const i = key === null ? -1 : this.#index(key);
    const next = i >= this.maxEntries || i < 0 ? 0 : i + 1;
    if (next >= this.maxEntries) fail(Errno.ENOENT);
    return Uint8Array.from([next & 0xff, (next >>> 8) & 0xff, (next >>> 16) & 0xff, next >>> 24]);
  }

  #index(key: Uint8Array): number {
    if (key.length !== 4) fail(Errno.EINVAL, `key is ${key.length} bytes, the map's are 4`);
    return new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
  }
}

