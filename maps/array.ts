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
 *
 * The descriptor's aux0 (WRITTEN) is 1 once anything may have written a value: an update from
 * userspace or a helper, or a program that refers to the array made ready to run (markWritten).
 * Until then every value is the zero the storage started as, and a snapshot reads none of it:
 * a 134 MB array no one has filled stays untouched memory (and out of the resident set).
 */
const CACHE_LINE = 64;
/** The descriptor field that says the array may hold a value that is not zero (see ArrayMap). */
const WRITTEN = Desc.AUX0;
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
    this.markWritten();
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

  /** markWritten records that a value may now differ from zero (in the descriptor, so every thread's view agrees). */
  markWritten(): void {
    writeDesc(this.space, this.desc, WRITTEN, 1);
  }

  /** written: whether anything may have written a value since the array was created. */
  get written(): boolean {
    return readDesc(this.space, this.desc, WRITTEN) !== 0;
  }

  /**
   * setEntries iterates, in key order, only the entries whose value is not all zero (on some CPU,
   * for a per-CPU array): what a snapshot must keep, since a new array is zeroed. It reads the
   * storage a word at a time rather than entry by entry, and not at all while nothing may have
   * written it, so an array of millions of zero slots (katran's ch_rings: 33,554,944) is not
   * read into memory to find nothing.
   */
  *setEntries(): Generator<[Uint8Array, Uint8Array]> {
    if (!this.written) return;
    const blocks = this.percpu ? this.ncpus : 1;
    const bytes = this.#stride * this.maxEntries;
    const i32 = this.space.i32;
    const u8 = this.space.u8;
    // indexes found set on some CPU, merged in key order
    let found: number[] = [];
    for (let c = 0; c < blocks; c++) {
      const base = this.storage + c * this.#block;
      const mine: number[] = [];
      if (base % 4 === 0 && this.#stride % 4 === 0) {
        const words = this.#stride / 4;
        const end = (base + bytes) / 4;
        for (let w = base / 4; w < end; w++) {
          if (i32[w] === 0) continue;
          const i = Math.floor((w - base / 4) / words);
          mine.push(i);
          w = base / 4 + (i + 1) * words - 1;
        }
      } else {
        for (let i = 0; i < this.maxEntries; i++) {
          const at = base + i * this.#stride;
          for (let b = 0; b < this.#stride; b++)
            if (u8[at + b] !== 0) {
              mine.push(i);
              break;
            }
        }
      }
      found = c === 0 ? mine : mergeSorted(found, mine);
    }
    for (const i of found) {
      const key = Uint8Array.from([i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24]);
      yield [key, this.lookupBytes(key)];
    }
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

/** mergeSorted merges two ascending lists of indexes, each index once. */
function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
    if (out[out.length - 1] !== x) out.push(x);
  }
  return out;
}
