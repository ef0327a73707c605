/**
 * int64: 64-bit eBPF arithmetic on pairs of int32 halves, so the interpreter's hot path
 * allocates no BigInt. Results that need both halves are written to `out` ([lo, hi]).
 * Division and modulo follow eBPF's defined results: x / 0 = 0, x % 0 = x,
 * INT_MIN s/ -1 = INT_MIN, INT_MIN s% -1 = 0.
 */

/** out receives [lo, hi] of the last two-half result. */
export const out = new Int32Array(2);

/** toBig joins halves into an unsigned 64-bit BigInt. */
export function toBig(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** fromBig splits a BigInt (taken modulo 2^64) into `out`. */
export function fromBig(v: bigint): void {
  const u = BigInt.asUintN(64, v);
  out[0] = Number(u & 0xffffffffn) | 0;
  out[1] = Number(u >> 32n) | 0;
}

/** mulhiU32 returns the high 32 bits of the 64-bit product of two unsigned 32-bit values. */
export function mulhiU32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) | 0;
}

/** mul64 writes the low 64 bits of a*b to `out`. */
export function mul64(alo: number, ahi: number, blo: number, bhi: number): void {
  out[0] = Math.imul(alo, blo);
  out[1] = (mulhiU32(alo, blo) + Math.imul(alo, bhi) + Math.imul(ahi, blo)) | 0;
}

/** udiv64 writes a / b (unsigned; 0 when b is 0) to `out`. */
export function udiv64(alo: number, ahi: number, blo: number, bhi: number): void {
  if (ahi === 0 && bhi === 0) {
    out[0] = blo === 0 ? 0 : Math.floor((alo >>> 0) / (blo >>> 0)) | 0;
    out[1] = 0;
    return;
  }
  const b = toBig(blo, bhi);
  fromBig(b === 0n ? 0n : toBig(alo, ahi) / b);
}

/** umod64 writes a % b (unsigned; a when b is 0) to `out`. */
export function umod64(alo: number, ahi: number, blo: number, bhi: number): void {
  if (ahi === 0 && bhi === 0) {
    out[0] = blo === 0 ? alo : (alo >>> 0) % (blo >>> 0) | 0;
    out[1] = 0;
    return;
  }
  const b = toBig(blo, bhi);
  fromBig(b === 0n ? toBig(alo, ahi) : toBig(alo, ahi) % b);
}

function signed(lo: number, hi: number): bigint {
  return BigInt.asIntN(64, toBig(lo, hi));
}

/** sdiv64 writes a s/ b to `out`. */
export function sdiv64(alo: number, ahi: number, blo: number, bhi: number): void {
  if (ahi === alo >> 31 && bhi === blo >> 31) {
    // both fit in int32: the quotient fits in 53 bits
    const q = blo === 0 ? 0 : Math.trunc(alo / blo);
    out[0] = q | 0;
    out[1] = q < 0 ? -1 : q >= 0x1_0000_0000 ? Math.floor(q / 0x1_0000_0000) : 0;
    return;
  }
  const b = signed(blo, bhi);
  fromBig(b === 0n ? 0n : signed(alo, ahi) / b);
}

/** smod64 writes a s% b to `out` (the remainder takes the dividend's sign). */
export function smod64(alo: number, ahi: number, blo: number, bhi: number): void {
  if (ahi === alo >> 31 && bhi === blo >> 31) {
    const r = blo === 0 ? alo : alo % blo | 0;
    out[0] = r;
    out[1] = r >> 31;
    return;
  }
  const b = signed(blo, bhi);
  fromBig(b === 0n ? signed(alo, ahi) : signed(alo, ahi) % b);
}

/** bswap32 reverses the bytes of a 32-bit value. */
export function bswap32(v: number): number {
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

/** bswap16 reverses the low two bytes, returning a zero-extended 16-bit value. */
export function bswap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}
