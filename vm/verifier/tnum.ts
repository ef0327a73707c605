/**
 * Tnum: a "tristate number", the verifier's knowledge of a 64-bit value bit by bit (the
 * kernel's kernel/bpf/tnum.c): a bit set in `mask` is unknown; where `mask` is clear the bit
 * is `value`'s. A tnum stands for every number n with (n & ~mask) === value.
 * Values are unsigned 64-bit bigints (the verifier is not on the packet path).
 */
export interface Tnum {
  readonly value: bigint;
  readonly mask: bigint;
}

const U64 = (1n << 64n) - 1n;
const u64 = (x: bigint) => x & U64;

export const tnum = (value: bigint, mask: bigint): Tnum => ({ value: u64(value) & ~u64(mask) & U64, mask: u64(mask) });
export const tnumConst = (v: bigint): Tnum => tnum(v, 0n);
export const TNUM_UNKNOWN: Tnum = tnum(0n, U64);

/** tnumRange: the tightest tnum holding every number from min to max (unsigned). */
export function tnumRange(min: bigint, max: bigint): Tnum {
  const chi = u64(min ^ max);
  if (chi === 0n) return tnumConst(min);
  const bits = BigInt(chi.toString(2).length); // fls64
  if (bits > 63n) return TNUM_UNKNOWN;
  const delta = (1n << bits) - 1n;
  return tnum(min & ~delta, delta);
}

export const isConst = (a: Tnum): boolean => a.mask === 0n;
/** contains: whether the concrete value `n` is one of a's. */
export const contains = (a: Tnum, n: bigint): boolean => (u64(n) & ~a.mask & U64) === a.value;
/** isSubset: every value of b is a value of a (kernel tnum_in(a, b)). */
export const isSubset = (a: Tnum, b: Tnum): boolean => (b.mask & ~a.mask & U64) === 0n && (b.value & ~a.mask & U64) === a.value;

export function add(a: Tnum, b: Tnum): Tnum {
  const sm = u64(a.mask + b.mask);
  const sv = u64(a.value + b.value);
  const sigma = u64(sm + sv);
  const chi = sigma ^ sv;
  const mu = chi | a.mask | b.mask;
  return tnum(sv & ~mu, mu);
}

export function sub(a: Tnum, b: Tnum): Tnum {
  const dv = u64(a.value - b.value);
  const alpha = u64(dv + a.mask);
  const beta = u64(dv - b.mask);
  const chi = alpha ^ beta;
  const mu = chi | a.mask | b.mask;
  return tnum(dv & ~mu, mu);
}

export const neg = (a: Tnum): Tnum => sub(tnumConst(0n), a);

export function and(a: Tnum, b: Tnum): Tnum {
  const alpha = a.value | a.mask;
  const beta = b.value | b.mask;
  const v = a.value & b.value;
  return tnum(v, alpha & beta & ~v);
}

export function or(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask | b.mask;
  return tnum(v, mu & ~v);
}

export function xor(a: Tnum, b: Tnum): Tnum {
  const v = a.value ^ b.value;
  const mu = a.mask | b.mask;
  return tnum(v & ~mu, mu);
}

export const lshift = (a: Tnum, s: number): Tnum => tnum(a.value << BigInt(s), a.mask << BigInt(s));
export const rshift = (a: Tnum, s: number): Tnum => tnum(a.value >> BigInt(s), a.mask >> BigInt(s));

/** arshift: arithmetic right shift of the low `bits` (32 or 64) as a signed number. */
export function arshift(a: Tnum, s: number, bits: 32 | 64): Tnum {
  const sv = BigInt.asIntN(bits, a.value) >> BigInt(s);
  const sm = BigInt.asIntN(bits, a.mask) >> BigInt(s);
  return bits === 32 ? tnum(BigInt.asUintN(32, sv), BigInt.asUintN(32, sm)) : tnum(sv, sm);
}

/**
 * mul: long multiplication over the known and unknown bits, as the kernel's tnum_mul: each
 * bit of a that is certainly 1 adds b, each unknown bit may add b's values or masks.
 */
export function mul(a: Tnum, b: Tnum): Tnum {
  let av = a.value;
  let am = a.mask;
  let bv = b.value;
  let bm = b.mask;
  const accV = u64(av * bv);
  let accM = tnumConst(0n);
  while (av || am) {
    if (av & 1n) accM = add(accM, tnum(0n, bm));
    else if (am & 1n) accM = add(accM, tnum(0n, bv | bm));
    av >>= 1n;
    am >>= 1n;
    bv = u64(bv << 1n);
    bm = u64(bm << 1n);
  }
  return add(tnumConst(accV), accM);
}

/** intersect: what both a and b say (the caller knows the value is in both). */
export function intersect(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask & b.mask;
  return tnum(v & ~mu, mu);
}

/** union: a tnum holding the values of a and of b. */
export function union(a: Tnum, b: Tnum): Tnum {
  const chi = a.value ^ b.value;
  const mu = chi | a.mask | b.mask;
  return tnum(a.value & ~mu, mu);
}

/** cast: the low `bytes` bytes (zero-extended). */
export function cast(a: Tnum, bytes: number): Tnum {
  const m = (1n << BigInt(8 * bytes)) - 1n;
  return tnum(a.value & m, a.mask & m);
}

/** subreg: the low 32 bits; withSubreg: a with its low 32 bits replaced by b's. */
export const subreg = (a: Tnum): Tnum => cast(a, 4);
export const clearSubreg = (a: Tnum): Tnum => tnum(a.value & ~0xffffffffn, a.mask & ~0xffffffffn);
export const withSubreg = (a: Tnum, b: Tnum): Tnum => or(clearSubreg(a), subreg(b));

/** umin / umax: the smallest and largest unsigned values a holds. */
export const umin = (a: Tnum): bigint => a.value;
export const umax = (a: Tnum): bigint => a.value | a.mask;

/** show: the kernel log's var_off notation, (0x0; 0xff). */
export const show = (a: Tnum): string => `(0x${a.value.toString(16)}; 0x${a.mask.toString(16)})`;
