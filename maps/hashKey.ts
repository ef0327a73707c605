/**
 * hashKey hashes `len` bytes at `addr` (murmur3's 32-bit mixing, a word at a time). The
 * kernel uses jhash with a random seed, so element order is not something to match.
 */
export function hashKey(dv: DataView, addr: number, len: number, seed: number): number {
  let h = seed ^ len;
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    let k = dv.getUint32(addr + i, true);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  for (let s = 0; i < len; i++, s += 8) k |= dv.getUint8(addr + i) << s;
  if (k !== 0 || (len & 3) !== 0) {
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** bytesEqual compares `len` bytes at two addresses of the same memory. */
export function bytesEqual(u8: Uint8Array, a: number, b: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (u8[a + i] !== u8[b + i]) return false;
  return true;
}
