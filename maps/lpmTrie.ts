import type { AddressSpace } from '../vm/memory.js';
import { BpfMap, createDescriptor } from './bpfMap.js';
import { Desc, readDesc, round8, writeDesc } from './descriptor.js';
import { Errno, fail } from '../uapi/errno.js';
import { SpinLock, withLock } from './lock.js';
import { UpdateFlag } from '../uapi/mapType.js';
import type { MapSpec } from './spec.js';

/**
 * Node layout: two children, prefix length, flags, the first 4 data bytes as one
 * big-endian word (the lookup's fast path for keys of up to 32 bits), then data and value
 * (each round 8).
 */
const N_CHILD0 = 0;
const N_CHILD1 = 4;
const N_PREFIXLEN = 8;
const N_FLAGS = 12;
const N_WORD0 = 16;
const N_DATA = 24;
const FLAG_IM = 1;

/** Storage header: root node, free list. */
const H_ROOT = 0;
const H_FREE = 4;
const HEADER = 8;

/**
 * LpmTrie is `BPF_MAP_TYPE_LPM_TRIE`: longest-prefix match over keys
 * `{ u32 prefixlen; u8 data[key_size - 4]; }` (data in network order), the kernel's
 * binary trie with intermediate nodes (kernel/bpf/lpm_trie.c): lookups walk it without a
 * lock, updates and deletes hold the map lock. A full trie gives ENOSPC; get-next-key walks
 * it in the kernel's post order (deepest, leftmost first).
 */
export class LpmTrie extends BpfMap {
  readonly #nodes: number;
  readonly #nodeSize: number;
  readonly #dataSize: number;
  readonly #valOff: number;
  readonly #maxPrefix: number;
  readonly #lock: SpinLock;

  constructor(space: AddressSpace, desc: number) {
    super(space, desc);
    this.#nodes = readDesc(space, desc, Desc.AUX0);
    this.#nodeSize = readDesc(space, desc, Desc.STRIDE);
    this.#dataSize = this.keySize - 4;
    this.#valOff = N_DATA + round8(this.#dataSize);
    this.#maxPrefix = 8 * this.#dataSize;
    this.#lock = new SpinLock(space.i32, desc + Desc.LOCK);
  }

  static create(space: AddressSpace, spec: MapSpec, ncpus: number): LpmTrie {
    const nodeSize = N_DATA + round8(spec.keySize - 4) + round8(spec.valueSize);
    const nNodes = 2 * spec.maxEntries + 2; // every entry may bring one intermediate node
    const bytes = HEADER + nNodes * nodeSize;
    if (bytes > 0x4000_0000) fail(Errno.E2BIG, 'LPM trie too large');
    const { desc, storage } = createDescriptor(space, spec, ncpus, { storageBytes: bytes });
    const nodes = storage.start + HEADER;
    writeDesc(space, desc, Desc.AUX0, nodes);
    writeDesc(space, desc, Desc.STRIDE, nodeSize);
    const dv = space.view;
    for (let n = 1; n < nNodes; n++) dv.setUint32(nodes + (n - 1) * nodeSize + N_CHILD0, n + 1, true);
    dv.setUint32(storage.start + H_FREE, 1, true);
    return new LpmTrie(space, desc);
  }

  #at(n: number): number {
    return this.#nodes + (n - 1) * this.#nodeSize;
  }

  #u32(addr: number): number {
    return this.space.view.getUint32(addr, true);
  }

  #set(addr: number, v: number): void {
    this.space.view.setUint32(addr, v, true);
  }

  /** bit returns bit `index` of the data at `data` (most significant bit of byte 0 first). */
  #bit(data: number, index: number): number {
    return (this.space.u8[data + (index >> 3)] >> (7 - (index & 7))) & 1;
  }

  /** match returns how many leading bits node `n` and the key share, up to both prefixes. */
  #match(n: number, keyAddr: number): number {
    const at = this.#at(n);
    const limit = Math.min(this.#u32(at + N_PREFIXLEN), this.#u32(keyAddr));
    const u8 = this.space.u8;
    const a = at + N_DATA;
    const b = keyAddr + 4;
    let bits = 0;
    for (let i = 0; bits < limit; i++) {
      const diff = u8[a + i] ^ u8[b + i];
      if (diff !== 0) {
        bits += Math.clz32(diff) - 24;
        break;
      }
      bits += 8;
    }
    return Math.min(bits, limit);
  }

  #child(n: number, bit: number): number {
    return this.#u32(this.#at(n) + (bit ? N_CHILD1 : N_CHILD0));
  }

  /** layout: where the trie lives, for a JIT that walks it inline (keys of at most 32 bits of data; see #lookup32). */
  layout(): { root: number; nodes: number; nodeSize: number; valOff: number; dataSize: number } | undefined {
    if (this.#dataSize > 4) return undefined;
    return { root: this.storage + H_ROOT, nodes: this.#nodes, nodeSize: this.#nodeSize, valOff: this.#valOff, dataSize: this.#dataSize };
  }

  override lookup(keyAddr: number): number {
    return this.#dataSize <= 4 ? this.#lookup32(keyAddr) : this.#lookupWide(keyAddr);
  }

  /** lookup32 walks the trie for keys of at most 32 bits: a level is a few i32 loads and a clz32. */
  #lookup32(keyAddr: number): number {
    const i32 = this.space.i32;
    const nodes = this.#nodes;
    const size = this.#nodeSize;
    const max = this.#maxPrefix;
    const keyPlen = i32[keyAddr >> 2];
    const keyWord = this.#word0(keyAddr + 4) | 0;
    let found = 0;
    let n = i32[(this.storage + H_ROOT) >> 2];
    while (n !== 0) {
      const at = nodes + (n - 1) * size;
      const w = at >> 2;
      const plen = i32[w + 2];
      const limit = plen < keyPlen ? plen : keyPlen;
      const diff = i32[w + 4] ^ keyWord;
      let m = diff === 0 ? 32 : Math.clz32(diff);
      if (m > limit) m = limit;
      if (m === max) return at + this.#valOff;
      if (m < plen) break;
      if ((i32[w + 3] & FLAG_IM) === 0) found = at;
      n = i32[w + ((keyWord >>> (31 - plen)) & 1)]; // child 0 or 1 by the key's next bit
    }
    return found === 0 ? 0 : found + this.#valOff;
  }

  /** lookupWide walks the trie for longer keys (IPv6), comparing 32 bits at a time. */
  #lookupWide(keyAddr: number): number {
    const dv = this.space.view;
    const u8 = this.space.u8;
    const i32 = this.space.i32;
    const nodes = this.#nodes;
    const size = this.#nodeSize;
    const keyPlen = i32[keyAddr >> 2];
    const key = keyAddr + 4;
    let found = 0;
    let n = i32[(this.storage + H_ROOT) >> 2];
    while (n !== 0) {
      const at = nodes + (n - 1) * size;
      const w = at >> 2;
      const plen = i32[w + 2];
      const limit = plen < keyPlen ? plen : keyPlen;
      // big-endian words, so clz32 counts shared leading bits (a last partial word may read
      // up to 3 bytes past the data; limit masks them)
      let m = 0;
      for (let i = 0; m < limit; i += 4) {
        const diff = dv.getUint32(at + N_DATA + i, false) ^ dv.getUint32(key + i, false);
        if (diff !== 0) {
          m += Math.clz32(diff);
          break;
        }
        m += 32;
      }
      if (m > limit) m = limit;
      if (m === this.#maxPrefix) return at + this.#valOff;
      if (m < plen) break;
      if ((i32[w + 3] & FLAG_IM) === 0) found = at;
      n = i32[w + ((u8[key + (plen >> 3)] >> (7 - (plen & 7))) & 1)];
    }
    return found === 0 ? 0 : found + this.#valOff;
  }

  #alloc(plen: number, dataAddr: number, flags: number): number {
    const n = this.#u32(this.storage + H_FREE);
    const at = this.#at(n);
    this.#set(this.storage + H_FREE, this.#u32(at + N_CHILD0));
    this.#set(at + N_CHILD0, 0);
    this.#set(at + N_CHILD1, 0);
    this.#set(at + N_PREFIXLEN, plen);
    this.#set(at + N_FLAGS, flags);
    this.space.u8.copyWithin(at + N_DATA, dataAddr, dataAddr + this.#dataSize);
    this.#set(at + N_WORD0, this.#word0(at + N_DATA));
    return n;
  }

  /** word0: the first (up to) 4 data bytes at `data` as a big-endian u32, zero-padded. */
  #word0(data: number): number {
    const u8 = this.space.u8;
    let w = 0;
    for (let i = 0; i < 4; i++) w = (w << 8) | (i < this.#dataSize ? u8[data + i] : 0);
    return w >>> 0;
  }

  #free(n: number): void {
    this.#set(this.#at(n) + N_CHILD0, this.#u32(this.storage + H_FREE));
    this.#set(this.storage + H_FREE, n);
  }

  override update(keyAddr: number, valueAddr: number, flags: number): number {
    if (flags > UpdateFlag.BPF_EXIST) return -Errno.EINVAL;
    const plen = this.#u32(keyAddr);
    if (plen > this.#maxPrefix) return -Errno.EINVAL;
    return withLock(this.#lock, () => {
      let slot = this.storage + H_ROOT;
      let n = 0;
      let m = 0;
      while ((n = this.#u32(slot)) !== 0) {
        m = this.#match(n, keyAddr);
        const np = this.#u32(this.#at(n) + N_PREFIXLEN);
        if (np !== m || np === plen || np === this.#maxPrefix) break;
        slot = this.#at(n) + (this.#bit(keyAddr + 4, np) ? N_CHILD1 : N_CHILD0);
      }
      const exact = n !== 0 && this.#u32(this.#at(n) + N_PREFIXLEN) === m && m === plen;
      const existing = exact && !(this.#u32(this.#at(n) + N_FLAGS) & FLAG_IM);
      if (existing && flags === UpdateFlag.BPF_NOEXIST) return -Errno.EEXIST;
      if (!existing && flags === UpdateFlag.BPF_EXIST) return -Errno.ENOENT;
      if (!existing && this.count >= this.maxEntries) return -Errno.ENOSPC;
      const fresh = this.#alloc(plen, keyAddr + 4, 0);
      const fat = this.#at(fresh);
      this.space.u8.copyWithin(fat + this.#valOff, valueAddr, valueAddr + this.valueSize);
      if (!existing) Atomics.add(this.space.i32, (this.desc + Desc.COUNT) >> 2, 1);
      if (n === 0) {
        this.#set(slot, fresh);
      } else if (exact) {
        // replace in place: the new node takes over the old one's children
        this.#set(fat + N_CHILD0, this.#u32(this.#at(n) + N_CHILD0));
        this.#set(fat + N_CHILD1, this.#u32(this.#at(n) + N_CHILD1));
        this.#set(slot, fresh);
        this.#free(n);
      } else if (m === plen) {
        // the new prefix is a prefix of n: it becomes n's parent
        this.#set(fat + (this.#bit(this.#at(n) + N_DATA, m) ? N_CHILD1 : N_CHILD0), n);
        this.#set(slot, fresh);
      } else {
        // they diverge at bit m: an intermediate node holds both
        const im = this.#alloc(m, this.#at(n) + N_DATA, FLAG_IM);
        const imAt = this.#at(im);
        const newRight = this.#bit(keyAddr + 4, m) === 1;
        this.#set(imAt + N_CHILD0, newRight ? n : fresh);
        this.#set(imAt + N_CHILD1, newRight ? fresh : n);
        this.#set(slot, im);
      }
      return 0;
    });
  }

  override delete(keyAddr: number): number {
    const plen = this.#u32(keyAddr);
    if (plen > this.#maxPrefix) return -Errno.EINVAL;
    return withLock(this.#lock, () => {
      let slot = this.storage + H_ROOT;
      let parentSlot = 0;
      let parent = 0;
      let n = 0;
      while ((n = this.#u32(slot)) !== 0) {
        const m = this.#match(n, keyAddr);
        const np = this.#u32(this.#at(n) + N_PREFIXLEN);
        if (np !== m || np === plen) break;
        parentSlot = slot;
        parent = n;
        slot = this.#at(n) + (this.#bit(keyAddr + 4, np) ? N_CHILD1 : N_CHILD0);
      }
      if (
        n === 0 ||
        this.#u32(this.#at(n) + N_PREFIXLEN) !== plen ||
        this.#match(n, keyAddr) !== plen ||
        this.#u32(this.#at(n) + N_FLAGS) & FLAG_IM
      ) {
        return -Errno.ENOENT;
      }
      Atomics.sub(this.space.i32, (this.desc + Desc.COUNT) >> 2, 1);
      const at = this.#at(n);
      const c0 = this.#u32(at + N_CHILD0);
      const c1 = this.#u32(at + N_CHILD1);
      if (c0 !== 0 && c1 !== 0) {
        this.#set(at + N_FLAGS, FLAG_IM); // still needed to hold both children
        return 0;
      }
      if (parent !== 0 && this.#u32(this.#at(parent) + N_FLAGS) & FLAG_IM && c0 === 0 && c1 === 0) {
        // the parent was only there to split: its other child takes its place
        const pat = this.#at(parent);
        const other = this.#u32(pat + N_CHILD0) === n ? this.#u32(pat + N_CHILD1) : this.#u32(pat + N_CHILD0);
        this.#set(parentSlot, other);
        this.#free(parent);
        this.#free(n);
        return 0;
      }
      this.#set(slot, c0 || c1);
      this.#free(n);
      return 0;
    });
  }

  override nextKey(key: Uint8Array | null): Uint8Array {
    const root = this.#u32(this.storage + H_ROOT);
    if (root === 0) fail(Errno.ENOENT);
    const leftmost = (from: number): number => {
      let found = 0;
      for (let n = from; n !== 0; ) {
        const at = this.#at(n);
        if (this.#u32(at + N_FLAGS) & FLAG_IM) {
          n = this.#u32(at + N_CHILD0);
        } else {
          found = n;
          n = this.#u32(at + N_CHILD0) || this.#u32(at + N_CHILD1);
        }
      }
      return found;
    };
    const out = (n: number) => {
      const at = this.#at(n);
      const k = new Uint8Array(this.keySize);
      new DataView(k.buffer).setUint32(0, this.#u32(at + N_PREFIXLEN), true);
      k.set(this.space.u8.subarray(at + N_DATA, at + N_DATA + this.#dataSize), 4);
      return k;
    };
    if (key === null) return out(leftmost(root));
    const k = this.putKey(key);
    const plen = this.#u32(k);
    if (plen > this.#maxPrefix) return out(leftmost(root));
    const stack: number[] = [];
    let n = root;
    while (n !== 0) {
      stack.push(n);
      const m = this.#match(n, k);
      const np = this.#u32(this.#at(n) + N_PREFIXLEN);
      if (np !== m || np === plen) break;
      n = this.#child(n, this.#bit(k + 4, np));
    }
    if (n === 0 || this.#u32(this.#at(n) + N_PREFIXLEN) !== plen || this.#u32(this.#at(n) + N_FLAGS) & FLAG_IM) {
      return out(leftmost(root));
    }
    let node = stack.pop()!;
    while (stack.length > 0) {
      const parent = stack[stack.length - 1];
      const pat = this.#at(parent);
      if (this.#u32(pat + N_CHILD0) === node) {
        const right = this.#u32(pat + N_CHILD1);
        if (right !== 0) return out(leftmost(right));
      }
      if (!(this.#u32(pat + N_FLAGS) & FLAG_IM)) return out(parent);
      node = stack.pop()!;
    }
    return fail(Errno.ENOENT);
  }

  override lookupBytes(key: Uint8Array): Uint8Array {
    const v = this.lookup(this.putKey(key));
    if (v === 0) fail(Errno.ENOENT);
    return this.copyOut(v, this.valueSize);
  }
}
