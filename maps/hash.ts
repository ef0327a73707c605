import type { AddressSpace } from '../vm/memory.js';
import { BpfMap, createDescriptor } from './bpfMap.js';
import { Desc, readDesc, round8, writeDesc } from './descriptor.js';
import { Errno, fail } from '../uapi/errno.js';
import { bytesEqual, hashKey } from './hashKey.js';
import { lockWord, unlockWord } from './lock.js';
import { MapFlag, MapType, UpdateFlag } from '../uapi/mapType.js';
import type { MapSpec } from './spec.js';

const LRU_TYPES: readonly number[] = [MapType.BPF_MAP_TYPE_LRU_HASH, MapType.BPF_MAP_TYPE_LRU_PERCPU_HASH];
const PERCPU_TYPES: readonly number[] = [MapType.BPF_MAP_TYPE_PERCPU_HASH, MapType.BPF_MAP_TYPE_LRU_PERCPU_HASH];

/** Storage header words: the free list and the LRU list ends. */
const H_FREE = 0;
const H_LRU_HEAD = 4;
const H_LRU_TAIL = 8;
const HEADER = 16;

/** Element header: next in bucket, hash, and (LRU only) list links and reference bit. */
const E_NEXT = 0;
const E_HASH = 4;
const E_PREV = 8;
const E_LNEXT = 12;
const E_REF = 16;

/**
 * HashMap is `BPF_MAP_TYPE_HASH` and its per-CPU and LRU variants (and the base of
 * `HASH_OF_MAPS` and `DEVMAP_HASH`): a preallocated element pool in the shared memory,
 * buckets of singly linked chains with one spinlock each, and a map lock for the free list.
 *
 *   storage: [header 16][bucket heads: nb x u32][bucket locks: nb x i32][elements ...]
 *   element: [next][hash]([prev][lnext][ref][pad] for LRU)[key, round 8][value(s), round 8]
 *
 * Element numbers are 1-based; 0 ends a chain. Lookups take no lock: a new element is
 * complete before it is linked; an existing key's value is overwritten in place. A full map gives
 * E2BIG; an LRU map evicts its least recently used element instead (second chance on the
 * reference bit that lookups set), under the map lock.
 */
export class HashMap extends BpfMap {
  readonly #nb: number;
  readonly #buckets: number;
  readonly #locks: number;
  readonly #elems: number;
  readonly #elemSize: number;
  readonly #keyOff: number;
  readonly #valOff: number;
  readonly #slot: number;
  readonly #lru: boolean;
  readonly #percpu: boolean;
  readonly #ofMaps: boolean;
  readonly #seed: number;
  readonly #mapLockIdx: number;

  constructor(space: AddressSpace, desc: number) {
    super(space, desc);
    this.#nb = readDesc(space, desc, Desc.AUX1);
    this.#buckets = this.storage + HEADER;
    this.#locks = this.#buckets + 4 * this.#nb;
    this.#elems = readDesc(space, desc, Desc.AUX0);
    this.#elemSize = readDesc(space, desc, Desc.STRIDE);
    this.#lru = LRU_TYPES.includes(this.type);
    this.#percpu = PERCPU_TYPES.includes(this.type);
    this.#ofMaps = this.type === MapType.BPF_MAP_TYPE_HASH_OF_MAPS;
    this.#keyOff = this.#lru ? 24 : 8;
    this.#valOff = this.#keyOff + round8(this.keySize);
    this.#slot = round8(this.valueSize);
    this.#seed = readDesc(space, desc, Desc.AUX2);
    this.#mapLockIdx = (desc + Desc.LOCK) >> 2;
  }

  #lock(i: number): void {
    lockWord(this.space.i32, i);
  }

  #unlock(i: number): void {
    unlockWord(this.space.i32, i);
  }

  static create(space: AddressSpace, spec: MapSpec, ncpus: number): HashMap {
    const lru = LRU_TYPES.includes(spec.type);
    const percpu = PERCPU_TYPES.includes(spec.type);
    let nb = 1;
    while (nb < spec.maxEntries) nb *= 2;
    const elemSize = (lru ? 24 : 8) + round8(spec.keySize) + round8(spec.valueSize) * (percpu ? ncpus : 1);
    const nElems = spec.maxEntries + ncpus + 1; // spare elements for replacing a key in a full map
    const elemsOff = round8(HEADER + 8 * nb);
    const bytes = elemsOff + nElems * elemSize;
    if (bytes > 0x4000_0000) fail(Errno.E2BIG, 'hash map too large');
    const { desc, storage } = createDescriptor(space, spec, ncpus, { storageBytes: bytes });
    writeDesc(space, desc, Desc.AUX0, storage.start + elemsOff);
    writeDesc(space, desc, Desc.AUX1, nb);
    writeDesc(space, desc, Desc.AUX2, (spec.flags ?? 0) & MapFlag.BPF_F_ZERO_SEED ? 0 : (Math.random() * 0x1_0000_0000) >>> 0);
    writeDesc(space, desc, Desc.STRIDE, elemSize);
    const dv = space.view;
    for (let e = 1; e < nElems; e++) dv.setUint32(storage.start + elemsOff + (e - 1) * elemSize + E_NEXT, e + 1, true);
    dv.setUint32(storage.start + elemsOff + (nElems - 1) * elemSize + E_NEXT, 0, true);
    dv.setUint32(storage.start + H_FREE, 1, true);
    return new HashMap(space, desc);
  }

  override get percpu(): boolean {
    return this.#percpu;
  }

  #elem(e: number): number {
    return this.#elems + (e - 1) * this.#elemSize;
  }

  /** find returns the element number holding the key at `keyAddr` (hash `h`), or 0. */
  #find(keyAddr: number, h: number): number {
    const dv = this.space.view;
    const u8 = this.space.u8;
    let e = dv.getUint32(this.#buckets + 4 * (h & (this.#nb - 1)), true);
    while (e !== 0) {
      const at = this.#elem(e);
      if (dv.getUint32(at + E_HASH, true) === h && bytesEqual(u8, at + this.#keyOff, keyAddr, this.keySize)) return e;
      e = dv.getUint32(at + E_NEXT, true);
    }
    return 0;
  }

  override lookup(keyAddr: number, cpu: number): number {
    const h = hashKey(this.space.view, keyAddr, this.keySize, this.#seed);
    const e = this.#find(keyAddr, h);
    if (e === 0) return 0;
    const at = this.#elem(e);
    if (this.#lru) this.space.view.setUint32(at + E_REF, 1, true);
    // a map of maps hands programs the inner map itself, not the slot holding it
    if (this.#ofMaps) return this.space.view.getUint32(at + this.#valOff, true);
    return at + this.#valOff + (this.#percpu ? cpu * this.#slot : 0);
  }

  #alloc(): number {
    this.#lock(this.#mapLockIdx);
    const e = this.#allocLocked();
    this.#unlock(this.#mapLockIdx);
    return e;
  }

  #free(e: number): void {
    this.#lock(this.#mapLockIdx);
    this.#freeLocked(e);
    this.#unlock(this.#mapLockIdx);
  }

  /** unlink removes element `e` from bucket `b`'s chain (the bucket is locked). */
  #unlink(b: number, e: number): void {
    const dv = this.space.view;
    const head = this.#buckets + 4 * b;
    let prev = 0;
    for (let cur = dv.getUint32(head, true); cur !== 0; cur = dv.getUint32(this.#elem(cur) + E_NEXT, true)) {
      if (cur === e) {
        const next = dv.getUint32(this.#elem(e) + E_NEXT, true);
        if (prev === 0) dv.setUint32(head, next, true);
        else dv.setUint32(this.#elem(prev) + E_NEXT, next, true);
        return;
      }
      prev = cur;
    }
  }

  /** lockIndex: the i32 index of bucket `b`'s lock, or of the map lock for LRU maps. */
  #lockIndex(b: number): number {
    return this.#lru ? this.#mapLockIdx : (this.#locks + 4 * b) >> 2;
  }

  override update(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    if (flags > UpdateFlag.BPF_F_LOCK || (flags & 3) === 3) return -Errno.EINVAL;
    const h = hashKey(this.space.view, keyAddr, this.keySize, this.#seed);
    const b = h & (this.#nb - 1);
    const lock = this.#lockIndex(b);
    this.#lock(lock);
    try {
      const old = this.#find(keyAddr, h);
      if (old !== 0 && (flags & 3) === UpdateFlag.BPF_NOEXIST) return -Errno.EEXIST;
      if (old === 0 && (flags & 3) === UpdateFlag.BPF_EXIST) return -Errno.ENOENT;
      if (old !== 0) {
        // an existing key is updated in place (no element swap): a concurrent reader of a
        // value wider than 8 bytes may see it half-written, as with the kernel's array maps
        this.#copyValue(this.#elem(old), valueAddr, cpu, false);
        if (this.#lru) this.space.view.setUint32(this.#elem(old) + E_REF, 1, true);
        return 0;
      }
      const countIdx = (this.desc + Desc.COUNT) >> 2;
      if (Atomics.add(this.space.i32, countIdx, 1) >= this.maxEntries) {
        Atomics.sub(this.space.i32, countIdx, 1);
        if (!this.#lru || !this.#evict()) return -Errno.E2BIG;
        Atomics.add(this.space.i32, countIdx, 1);
      }
      const e = this.#lru ? this.#allocLocked() : this.#alloc();
      if (e === 0) {
        Atomics.sub(this.space.i32, countIdx, 1);
        return -Errno.ENOMEM;
      }
      const at = this.#elem(e);
      const dv = this.space.view;
      this.space.u8.copyWithin(at + this.#keyOff, keyAddr, keyAddr + this.keySize);
      this.#copyValue(at, valueAddr, cpu, true);
      dv.setUint32(at + E_HASH, h, true);
      // the element is complete before it is linked, so a lock-free reader never sees it half-made
      const head = this.#buckets + 4 * b;
      dv.setUint32(at + E_NEXT, dv.getUint32(head, true), true);
      Atomics.store(this.space.i32, head >> 2, e);
      if (this.#lru) this.#lruPush(e);
      return 0;
    } finally {
      this.#unlock(lock);
    }
  }

  #copyValue(at: number, valueAddr: number, cpu: number, fresh: boolean): void {
    const u8 = this.space.u8;
    const v = at + this.#valOff;
    if (!this.#percpu) {
      u8.copyWithin(v, valueAddr, valueAddr + this.valueSize);
    } else if (cpu < 0) {
      u8.copyWithin(v, valueAddr, valueAddr + this.#slot * this.ncpus);
    } else {
      if (fresh) u8.fill(0, v, v + this.#slot * this.ncpus);
      u8.copyWithin(v + cpu * this.#slot, valueAddr, valueAddr + this.valueSize);
    }
  }

  override delete(keyAddr: number): number {
    const h = hashKey(this.space.view, keyAddr, this.keySize, this.#seed);
    const b = h & (this.#nb - 1);
    const lock = this.#lockIndex(b);
    this.#lock(lock);
    try {
      const e = this.#find(keyAddr, h);
      if (e === 0) return -Errno.ENOENT;
      this.#unlink(b, e);
      Atomics.sub(this.space.i32, (this.desc + Desc.COUNT) >> 2, 1);
      if (this.#lru) {
        this.#lruRemove(e);
        this.#freeLocked(e);
      } else this.#free(e);
      return 0;
    } finally {
      this.#unlock(lock);
    }
  }

  override forEachElem(fn: (keyAddr: number, valueAddr: number) => boolean, cpu: number): number {
    const dv = this.space.view;
    let n = 0;
    for (let b = 0; b < this.#nb; b++) {
      for (let e = dv.getUint32(this.#buckets + 4 * b, true); e !== 0; e = dv.getUint32(this.#elem(e) + E_NEXT, true)) {
        const at = this.#elem(e);
        n++;
        if (fn(at + this.#keyOff, at + this.#valOff + (this.#percpu ? cpu * this.#slot : 0))) return n;
      }
    }
    return n;
  }

  // ---- LRU (all under the map lock) ------------------------------------------------------

  #allocLocked(): number {
    const dv = this.space.view;
    const e = dv.getUint32(this.storage + H_FREE, true);
    if (e !== 0) dv.setUint32(this.storage + H_FREE, dv.getUint32(this.#elem(e) + E_NEXT, true), true);
    return e;
  }

  #freeLocked(e: number): void {
    const dv = this.space.view;
    dv.setUint32(this.#elem(e) + E_NEXT, dv.getUint32(this.storage + H_FREE, true), true);
    dv.setUint32(this.storage + H_FREE, e, true);
  }

  #lruPush(e: number): void {
    const dv = this.space.view;
    const head = dv.getUint32(this.storage + H_LRU_HEAD, true);
    const at = this.#elem(e);
    dv.setUint32(at + E_PREV, 0, true);
    dv.setUint32(at + E_LNEXT, head, true);
    dv.setUint32(at + E_REF, 0, true);
    if (head !== 0) dv.setUint32(this.#elem(head) + E_PREV, e, true);
    else dv.setUint32(this.storage + H_LRU_TAIL, e, true);
    dv.setUint32(this.storage + H_LRU_HEAD, e, true);
  }

  #lruRemove(e: number): void {
    const dv = this.space.view;
    const at = this.#elem(e);
    const prev = dv.getUint32(at + E_PREV, true);
    const next = dv.getUint32(at + E_LNEXT, true);
    if (prev !== 0) dv.setUint32(this.#elem(prev) + E_LNEXT, next, true);
    else dv.setUint32(this.storage + H_LRU_HEAD, next, true);
    if (next !== 0) dv.setUint32(this.#elem(next) + E_PREV, prev, true);
    else dv.setUint32(this.storage + H_LRU_TAIL, prev, true);
  }

  /** evict removes the least recently used element, giving referenced ones a second chance. */
  #evict(): boolean {
    const dv = this.space.view;
    for (let tries = 0; tries < 2 * this.maxEntries + 2; tries++) {
      const e = dv.getUint32(this.storage + H_LRU_TAIL, true);
      if (e === 0) return false;
      const at = this.#elem(e);
      if (dv.getUint32(at + E_REF, true) !== 0) {
        this.#lruRemove(e);
        this.#lruPush(e); // clears the reference bit
        continue;
      }
      this.#lruRemove(e);
      this.#unlink(dv.getUint32(at + E_HASH, true) & (this.#nb - 1), e);
      this.#freeLocked(e);
      Atomics.sub(this.space.i32, (this.desc + Desc.COUNT) >> 2, 1);
      return true;
    }
    return false;
  }

  // ---- userspace -------------------------------------------------------------------------

  override lookupBytes(key: Uint8Array): Uint8Array {
    const k = this.putKey(key);
    const e = this.#find(k, hashKey(this.space.view, k, this.keySize, this.#seed));
    if (e === 0) fail(Errno.ENOENT);
    return this.copyOut(this.#elem(e) + this.#valOff, this.userValueSize);
  }

  override lookupAndDeleteBytes(key: Uint8Array | null): Uint8Array {
    if (key === null) fail(Errno.EINVAL);
    const value = this.lookupBytes(key);
    this.deleteBytes(key);
    return value;
  }

  override nextKey(key: Uint8Array | null): Uint8Array {
    const dv = this.space.view;
    let b = 0;
    if (key !== null) {
      const k = this.putKey(key);
      const h = hashKey(dv, k, this.keySize, this.#seed);
      const e = this.#find(k, h);
      if (e !== 0) {
        const next = dv.getUint32(this.#elem(e) + E_NEXT, true);
        if (next !== 0) return this.copyOut(this.#elem(next) + this.#keyOff, this.keySize);
        b = (h & (this.#nb - 1)) + 1;
      }
    }
    for (; b < this.#nb; b++) {
      const e = dv.getUint32(this.#buckets + 4 * b, true);
      if (e !== 0) return this.copyOut(this.#elem(e) + this.#keyOff, this.keySize);
    }
    return fail(Errno.ENOENT);
  }
}
