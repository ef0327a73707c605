import type { AddressSpace } from '../vm/memory.js';
import { Perm } from '../vm/memory.js';
import { BpfMap, createDescriptor } from './bpfMap.js';
import { Desc, readDesc, round8, writeDesc } from './descriptor.js';
import { Errno, fail } from '../uapi/errno.js';
import { MapFlag, MapType, UpdateFlag } from '../uapi/mapType.js';
import type { MapSpec } from './spec.js';

/**
 * ArrayMap is `BPF_MAP_TYPE_ARRAY` and `BPF_MAP_TYPE_PERCPU_ARRAY`: preallocated, zeroed
 * values indexed by a u32 key; delete is EINVAL; BPF_F_RDONLY_PROG maps the values
 * read-only for programs.
 *
 *   storage: [value 0][value 1]...   each slot round_up(value_size, 8) bytes
 *   per-CPU: [cpu 0's values][cpu 1's values]...  one block per CPU, each starting on a cache
 *            line, as the kernel's per-CPU areas: two CPUs never write the same line
 *            (userspace still sees round_up(value_size, 8) bytes per CPU, back to back)
 */
const CACHE_LINE = 64;
export class ArrayMap extends BpfMap {
  /** Bytes from one value to the next (round_up(value_size, 8)). */
  readonly #stride: number;
  /** Per-CPU: bytes from one CPU's block of values to the next. */
  readonly #block: number;

  constructor(space: AddressSpace, desc: number) {
    super(space, desc);
    this.#stride = readDesc(space, desc, Desc.STRIDE);
    this.#block = cpuBlock(this.#stride, this.maxEntries);
  }

  static create(space: AddressSpace, spec: MapSpec, ncpus: number): ArrayMap {
    const percpu = spec.type === MapType.BPF_MAP_TYPE_PERCPU_ARRAY;
    const stride = round8(spec.valueSize);
    const bytes = percpu ? cpuBlock(stride, spec.maxEntries) * ncpus : stride * spec.maxEntries;
    const perm = (spec.flags ?? 0) & MapFlag.BPF_F_RDONLY_PROG ? Perm.READ : Perm.RW;
    if (bytes > 0x4000_0000) fail(Errno.ENOMEM, 'array larger than the address space allows');
    const { desc } = createDescriptor(space, spec, ncpus, { storageBytes: bytes, storagePerm: perm });
    writeDesc(space, desc, Desc.STRIDE, stride);
    return new ArrayMap(space, desc);
  }

  override get percpu(): boolean {
    return this.type === MapType.BPF_MAP_TYPE_PERCPU_ARRAY;
  }

  /** layout: where values live, for a JIT that inlines lookups (value i at storage + i * stride + offset). */
  layout(cpu: number): { storage: number; stride: number; offset: number; maxEntries: number } {
    return { storage: this.storage, stride: this.#stride, offset: this.percpu ? cpu * this.#block : 0, maxEntries: this.maxEntries };
  }

  /** valueAddr returns where index `i`'s value for `cpu` lives. */
  valueAddr(i: number, cpu: number): number {
    return this.storage + i * this.#stride + (this.percpu ? cpu * this.#block : 0);
  }

  override lookup(keyAddr: number, cpu: number): number {
    const i = this.space.view.getUint32(keyAddr, true);
    return i < this.maxEntries ? this.valueAddr(i, cpu) : 0;
  }

  override update(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    if (flags > UpdateFlag.BPF_F_LOCK) return -Errno.EINVAL;
    const i = this.space.view.getUint32(keyAddr, true);
    if (i >= this.maxEntries) return -Errno.E2BIG;
    if ((flags & 3) === UpdateFlag.BPF_NOEXIST) return -Errno.EEXIST;
    const u8 = this.space.u8;
    if (this.percpu && cpu < 0) {
      // userspace: one round_up(value_size, 8) slot per CPU, back to back
      for (let c = 0; c < this.ncpus; c++)
        u8.copyWithin(this.valueAddr(i, c), valueAddr + c * this.#stride, valueAddr + (c + 1) * this.#stride);
    } else u8.copyWithin(this.valueAddr(i, cpu), valueAddr, valueAddr + this.valueSize);
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
    const out = new Uint8Array(this.#stride * this.ncpus);
    for (let c = 0; c < this.ncpus; c++)
      out.set(this.space.u8.subarray(this.valueAddr(i, c), this.valueAddr(i, c) + this.#stride), c * this.#stride);
    return out;
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

/** cpuBlock: the bytes of one CPU's values in a per-CPU array, rounded up to a cache line. */
function cpuBlock(stride: number, maxEntries: number): number {
  return Math.ceil((stride * maxEntries) / CACHE_LINE) * CACHE_LINE;
}
