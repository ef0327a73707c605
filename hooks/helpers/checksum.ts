/**
 * Internet checksum arithmetic as the kernel does it (RFC 1071 / RFC 1624), on plain bytes.
 * `csumDiff` returns the 32-bit partial sum bpf_csum_diff returns on x86-64.
 */

/** csumDiff: seed + sum(~from words) + sum(to words), 32-bit little-endian words, folded to 32 bits. */
export function csumDiff(from: Uint8Array, to: Uint8Array, seed: number): number {
  let acc = seed >>> 0;
  const add = (b: Uint8Array, invert: boolean) => {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i + 4 <= b.length; i += 4) {
      const w = dv.getUint32(i, true);
      acc += invert ? ~w >>> 0 : w;
    }
  };
  add(from, true);
  add(to, false);
  while (acc > 0xffffffff) acc = (acc % 0x1_0000_0000) + Math.floor(acc / 0x1_0000_0000);
  return acc >>> 0;
}

/** fold16 folds a 32-bit partial sum into 16 bits (one's complement addition). */
export function fold16(sum: number): number {
  let s = sum >>> 0;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s & 0xffff;
}

/**
 * replaceChecksum updates a 16-bit checksum (as stored, read big-endian) when `from`
 * becomes `to` (2 or 4 bytes, as they are in memory, read big-endian): RFC 1624,
 * HC' = ~(~HC + ~m + m').
 */
export function replaceChecksum(check: number, from: number, to: number, size: 2 | 4): number {
  let sum = ~check & 0xffff;
  if (size === 2) sum += (~from & 0xffff) + (to & 0xffff);
  else sum += (~from >>> 16) + (~from & 0xffff) + (to >>> 16) + (to & 0xffff);
  return ~fold16(sum) & 0xffff;
}

/**
 * addPartial folds a 32-bit partial sum from csum_diff into a stored 16-bit checksum. Both
 * are in memory order read little-endian (x86's host order, as the kernel computes them);
 * the one's complement sum does not care about byte order as long as both agree.
 */
export function addPartial(checkLE: number, partial: number): number {
  const sum = (~checkLE & 0xffff) + (partial >>> 16) + (partial & 0xffff);
  return ~fold16(sum) & 0xffff;
}

/** swap16 swaps the bytes of a 16-bit value. */
export function swap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}

/** ipChecksum computes an IPv4 header checksum from scratch (its checksum field taken as 0). */
export function ipChecksum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < header.length; i += 2) sum += i === 10 ? 0 : (header[i] << 8) | header[i + 1];
  return ~fold16(sum) & 0xffff;
}
