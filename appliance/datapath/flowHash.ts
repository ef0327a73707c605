/**
 * flowHash: a symmetric hash of a frame's flow, so both directions of a connection go to the
 * same worker (emulated CPU) and keep their order. It reads through 802.1Q/802.1ad tags to
 * IPv4 or IPv6 and, for TCP, UDP and SCTP in an unfragmented packet, the ports; the two
 * endpoints are put in order before mixing. Other frames hash their ordered MAC pair and
 * ethertype. The frame is `len` bytes at `start` of `b` (no view needed).
 *
 * This is the definition: the record walk hashes in WebAssembly (vm/jit/recordWalk.ts, a hot
 * path), and test/appliance/replayBatch.test.ts holds it to this function on every packet of
 * its captures and on 20,000 random frames near the parser's edges.
 */
export function flowHash(b: Uint8Array, start = 0, len = b.length - start): number {
  const end = start + len;
  if (len < 14) return 0;
  let off = start + 12;
  let type = (b[off] << 8) | b[off + 1];
  while ((type === 0x8100 || type === 0x88a8) && off + 6 <= end) {
    off += 4;
    type = (b[off] << 8) | b[off + 1];
  }
  off += 2;
  if (type === 0x0800 && off + 20 <= end) {
    const ihl = (b[off] & 0x0f) * 4;
    const proto = b[off + 9];
    const fragmented = ((b[off + 6] & 0x3f) | b[off + 7]) !== 0;
    return endpoints(b, end, off + 12, off + 16, 4, proto, fragmented ? -1 : off + ihl);
  }
  if (type === 0x86dd && off + 40 <= end) return endpoints(b, end, off + 8, off + 24, 16, b[off + 6], off + 40);
  return endpoints(b, end, start, start + 6, 6, type & 0xff, -1);
}

function endpoints(b: Uint8Array, end: number, a: number, z: number, n: number, proto: number, l4: number): number {
  let pa = 0;
  let pz = 0;
  if (l4 >= 0 && (proto === 6 || proto === 17 || proto === 132) && l4 + 4 <= end) {
    pa = (b[l4] << 8) | b[l4 + 1];
    pz = (b[l4 + 2] << 8) | b[l4 + 3];
  }
  // order the endpoints: (address, port) pairs compared bytewise
  let swap = false;
  for (let i = 0; i < n; i++) {
    if (b[a + i] !== b[z + i]) {
      swap = b[a + i] > b[z + i];
      break;
    }
    if (i === n - 1) swap = pa > pz;
  }
  if (swap) [a, z, pa, pz] = [z, a, pz, pa];
  let h = 0x811c9dc5 ^ proto;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[a + i], 0x01000193);
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[z + i], 0x01000193);
  h = Math.imul(h ^ pa, 0x01000193);
  h = Math.imul(h ^ pz, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
