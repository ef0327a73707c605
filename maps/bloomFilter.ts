import type { AddressSpace } from '../vm/memory.js';
import { BpfMap, createDescriptor } from './bpfMap.js';
import { Desc, readDesc, writeDesc } from './descriptor.js';
import { Errno, fail } from '../uapi/errno.js';
import { hashKey } from './hashKey.js';
import { UpdateFlag } from '../uapi/mapType.js';
import type { MapSpec } from './spec.js';

/**
 * BloomFilter is `BPF_MAP_TYPE_BLOOM_FILTER`: push adds a value, peek answers 0 when it
 * may be present and ENOENT when it is surely absent. `map_extra` is the number of hash
 * functions (default 5); the bit array is sized as the kernel sizes it:
 * max_entries * hashes / ln 2, rounded up to a power of two.
 */
export class BloomFilter extends BpfMap {
  readonly #hashes: number;
  readonly #mask: number;

  constructor(space: AddressSpace, desc: number) {
    super(space, desc);
    this.#hashes = readDesc(space, desc, Desc.MAP_EXTRA) || 5;
    this.#mask = readDesc(space, desc, Desc.AUX0) - 1;
  }

  static create(space: AddressSpace, spec: MapSpec, ncpus: number): BloomFilter {
    const hashes = spec.mapExtra || 5;
    let bits = 8;
    const want = Math.min(Math.ceil((spec.maxEntries * hashes) / Math.LN2), 1 << 30);
    while (bits < want) bits *= 2;
    const { desc } = createDescriptor(space, spec, ncpus, { storageBytes: bits / 8 });
    writeDesc(space, desc, Desc.AUX0, bits);
    return new BloomFilter(space, desc);
  }

  #bits(valueAddr: number, fn: (byte: number, mask: number) => boolean): boolean {
    const dv = this.space.view;
    for (let i = 0; i < this.#hashes; i++) {
      const bit = hashKey(dv, valueAddr, this.valueSize, i) & this.#mask;
      if (!fn(this.storage + (bit >>> 3), 1 << (bit & 7))) return false;
    }
    return true;
  }

  override push(valueAddr: number, flags: number): number {
    if (flags !== UpdateFlag.BPF_ANY) return -Errno.EINVAL;
    const u8 = this.space.u8;
    this.#bits(valueAddr, (byte, mask) => ((u8[byte] |= mask), true));
    return 0;
  }

  override peek(valueAddr: number): number {
    const u8 = this.space.u8;
    return this.#bits(valueAddr, (byte, mask) => (u8[byte] & mask) !== 0) ? 0 : -Errno.ENOENT;
  }

  /** bits returns the filter's bit array (to save it); setBits restores it. */
  bits(): Uint8Array {
    return this.copyOut(this.storage, (this.#mask + 1) / 8);
  }

  setBits(bits: Uint8Array): void {
    this.space.u8.set(bits.subarray(0, (this.#mask + 1) / 8), this.storage);
  }

  // userspace: update(NULL key) = push; lookup(NULL key, value) = peek
  override updateBytes(key: Uint8Array | null, value: Uint8Array, flags: number): void {
    if (key !== null && key.length !== 0) fail(Errno.EINVAL);
    this.pushBytes(value, flags);
  }

  override lookupBytes(): Uint8Array {
    return fail(Errno.EINVAL, 'a bloom filter is queried with a value (peek)');
  }

  override deleteBytes(): void {
    fail(Errno.EOPNOTSUPP);
  }

  override nextKey(): Uint8Array {
    return fail(Errno.EOPNOTSUPP);
  }
}
