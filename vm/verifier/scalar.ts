import * as T from './tnum.js';

/**
 * Scalar: what the verifier knows of a number in a register (the kernel's bpf_reg_state for
 * SCALAR_VALUE): its bits (`var`, a tnum), unsigned and signed 64-bit bounds, and the same
 * for the low 32 bits. Every field holds for every value the register may have; `sync`
 * tightens each from the others (reg_bounds_sync).
 */
export interface Scalar {
  readonly var: T.Tnum;
  readonly umin: bigint;
  readonly umax: bigint;
  readonly smin: bigint;
  readonly smax: bigint;
  readonly u32min: bigint;
  readonly u32max: bigint;
  readonly s32min: bigint;
  readonly s32max: bigint;
}

const U64 = (1n << 64n) - 1n;
const U32 = (1n << 32n) - 1n;
const S64MIN = -(1n << 63n);
const S64MAX = (1n << 63n) - 1n;
const S32MIN = -(1n << 31n);
const S32MAX = (1n << 31n) - 1n;
const s64 = (x: bigint) => BigInt.asIntN(64, x);
const u64 = (x: bigint) => BigInt.asUintN(64, x);
const s32 = (x: bigint) => BigInt.asIntN(32, x);
const u32 = (x: bigint) => BigInt.asUintN(32, x);
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

export const UNKNOWN: Scalar = {
  var: T.TNUM_UNKNOWN,
  umin: 0n,
  umax: U64,
  smin: S64MIN,
  smax: S64MAX,
  u32min: 0n,
  u32max: U32,
  s32min: S32MIN,
  s32max: S32MAX,
};

export function scalarConst(v: bigint): Scalar {
  const x = u64(v);
  return {
    var: T.tnumConst(x),
    umin: x,
    umax: x,
    smin: s64(x),
    smax: s64(x),
    u32min: u32(x),
    u32max: u32(x),
    s32min: s32(x),
    s32max: s32(x),
  };
}

/** isConstScalar: the register holds one known value. */
export const isConstScalar = (s: Scalar): boolean => T.isConst(s.var);

/** contains: whether `n` (any bigint, taken mod 2^64) is one of the values s allows. */
export function contains(s: Scalar, n: bigint): boolean {
  const x = u64(n);
  const lo = u32(x);
  return (
    T.contains(s.var, x) &&
    x >= s.umin &&
    x <= s.umax &&
    s64(x) >= s.smin &&
    s64(x) <= s.smax &&
    lo >= s.u32min &&
    lo <= s.u32max &&
    s32(lo) >= s.s32min &&
    s32(lo) <= s.s32max
  );
}

/**
 * sync tightens the bounds from one another, as reg_bounds_sync does: the bits bound the
 * ranges, a range whose sign is known bounds the other signedness, the 64-bit bounds bound
 * the 32-bit ones when the upper half is known, and the ranges narrow the bits.
 */
export function sync(x: Scalar): Scalar {
  // a known value its bounds allow: every bound becomes that value (the rounds below would say the same, slower)
  if (x.var.mask === 0n && contains(x, x.var.value)) return scalarConst(x.var.value);
  let { umin, umax, smin, smax, u32min, u32max, s32min, s32max } = x;
  let v = x.var;
  for (let round = 0; round < 2; round++) {
    const was = [umin, umax, smin, smax, u32min, u32max, s32min, s32max, v.value, v.mask];
    // the bits bound the ranges
    umin = max(umin, v.value);
    umax = min(umax, v.value | v.mask);
    smin = max(smin, s64(v.value | (v.mask & (1n << 63n))));
    smax = min(smax, s64(v.value | (v.mask & S64MAX)));
    const lv = T.subreg(v);
    u32min = max(u32min, lv.value);
    u32max = min(u32max, lv.value | lv.mask);
    s32min = max(s32min, s32(lv.value | (lv.mask & 0x80000000n)));
    s32max = min(s32max, s32(lv.value | (lv.mask & 0x7fffffffn)));
    // a signed range that does not cross zero is also an unsigned one, and back
    if (smin >= 0n || smax < 0n) {
      umin = max(umin, u64(smin));
      umax = min(umax, u64(smax));
    }
    if (s64(umin) <= s64(umax) && umin > S64MAX === umax > S64MAX) {
      smin = max(smin, s64(umin));
      smax = min(smax, s64(umax));
    }
    if (s32min >= 0n || s32max < 0n) {
      u32min = max(u32min, u32(s32min));
      u32max = min(u32max, u32(s32max));
    }
    if (u32min > S32MAX === u32max > S32MAX) {
      s32min = max(s32min, s32(u32min));
      s32max = min(s32max, s32(u32max));
    }
    // when the upper 32 bits are one known value, the 64-bit range bounds the low half
    if (umin >> 32n === umax >> 32n) {
      u32min = max(u32min, u32(umin));
      u32max = min(u32max, u32(umax));
      if (u32min > S32MAX === u32max > S32MAX) {
        s32min = max(s32min, s32(u32min));
        s32max = min(s32max, s32(u32max));
      }
    }
    // __reg_deduce_mixed_bounds: the low half's ranges tighten the 64-bit ones, each bound
    // keeping its own high half (a value with a bound's high half has its low half in range)
    const HI = ~0xffffffffn;
    const low = (lo: bigint, hi: bigint) => {
      umin = max(umin, (umin & HI) | lo);
      umax = min(umax, (umax & HI) | hi);
      smin = max(smin, (smin & HI) | lo);
      smax = min(smax, (smax & HI) | hi);
    };
    low(u32min, u32max);
    if (u32(s32min) <= u32(s32max)) low(u32(s32min), u32(s32max));
    // a 64-bit range within the s32 range, with a nonnegative low half: the high half is zero
    if (s32min >= 0n && smin >= S32MIN && smax <= S32MAX) {
      smin = max(smin, s32min);
      smax = min(smax, s32max);
      umin = max(umin, s32min);
      umax = min(umax, s32max);
    }
    // the ranges narrow the bits
    v = T.intersect(v, T.tnumRange(umin, umax));
    v = T.withSubreg(v, T.intersect(T.subreg(v), T.tnumRange(u32min, u32max)));
    // a round that changed nothing: the next would change nothing either
    const now = [umin, umax, smin, smax, u32min, u32max, s32min, s32max, v.value, v.mask];
    if (now.every((n, k) => n === was[k])) break;
  }
  return { var: v, umin, umax, smin, smax, u32min, u32max, s32min, s32max };
}

/** fromBits: a scalar known only by its bits. */
export const fromBits = (v: T.Tnum): Scalar => sync({ ...UNKNOWN, var: v });

/** zext32: the 64-bit value an ALU32 result becomes (upper half zero): from its low half's knowledge. */
function zext32(x: Scalar): Scalar {
  return sync({
    var: T.subreg(x.var),
    umin: x.u32min,
    umax: x.u32max,
    smin: x.u32min,
    smax: x.u32max,
    u32min: x.u32min,
    u32max: x.u32max,
    s32min: x.s32min,
    s32max: x.s32max,
  });
}

/** low32: the low half of a scalar as a scalar of its own (for ALU32 operations). */
function low32(x: Scalar): Scalar {
  return sync({
    ...UNKNOWN,
    var: T.subreg(x.var),
    umin: x.u32min,
    umax: x.u32max,
    smin: x.u32min,
    smax: x.u32max,
    u32min: x.u32min,
    u32max: x.u32max,
    s32min: x.s32min,
    s32max: x.s32max,
  });
}

export type AluOpName =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'mod'
  | 'sdiv'
  | 'smod'
  | 'and'
  | 'or'
  | 'xor'
  | 'lsh'
  | 'rsh'
  | 'arsh'
  | 'mov'
  | 'neg';

/** concrete: eBPF's own result of an ALU operation on known values (division by zero included). */
function concrete(op: AluOpName, a: bigint, b: bigint, bits: 32 | 64): bigint {
  const m = bits === 32 ? U32 : U64;
  a &= m;
  b &= m;
  const sh = b & BigInt(bits - 1);
  const signed = (x: bigint) => (bits === 32 ? s32(x) : s64(x));
  switch (op) {
    case 'add':
      return (a + b) & m;
    case 'sub':
      return (a - b) & m;
    case 'mul':
      return (a * b) & m;
    case 'div':
      return b === 0n ? 0n : a / b;
    case 'mod':
      return b === 0n ? a : a % b;
    // signed (v4): truncating; INT_MIN / -1 stays INT_MIN (its remainder 0), as the interpreter
    case 'sdiv':
      return b === 0n ? 0n : BigInt.asUintN(bits, signed(a) / signed(b));
    case 'smod':
      return b === 0n ? a : BigInt.asUintN(bits, signed(a) % signed(b));
    case 'and':
      return a & b;
    case 'or':
      return a | b;
    case 'xor':
      return a ^ b;
    case 'lsh':
      return (a << sh) & m;
    case 'rsh':
      return a >> sh;
    case 'arsh':
      return (signed(a) >> sh) & m;
    case 'mov':
      return b;
    case 'neg':
      return -a & m;
  }
}

/**
 * alu: what a register holds after `dst = dst OP src` on scalars (adjust_scalar_min_max_vals),
 * 64-bit, or 32-bit with the result zero-extended. Known operands fold exactly; otherwise
 * interval arithmetic that gives up (to unknown) where it could wrap, and the tnum.
 */
export function alu(op: AluOpName, dst: Scalar, src: Scalar, bits: 32 | 64): Scalar {
  if (bits === 32) {
    const r = alu64(op, low32(dst), low32(src), 32);
    return zext32(r);
  }
  return alu64(op, dst, src, 64);
}

function alu64(op: AluOpName, a: Scalar, b: Scalar, bits: 32 | 64): Scalar {
  const M = bits === 32 ? U32 : U64;
  const SMIN = bits === 32 ? S32MIN : S64MIN;
  const SMAX = bits === 32 ? S32MAX : S64MAX;
  const fit = (t: T.Tnum) => (bits === 32 ? T.subreg(t) : t);
  if (op === 'mov') return b;
  if (isConstScalar(a) && (op === 'neg' || isConstScalar(b))) return scalarConst(concrete(op, a.var.value, b.var.value, bits));
  // the signed bounds of a value range, in this width
  const sBounds = (x: Scalar) => (bits === 32 ? [x.s32min, x.s32max] : [x.smin, x.smax]);
  const uBounds = (x: Scalar) => (bits === 32 ? [x.u32min, x.u32max] : [x.umin, x.umax]);
  const [aumin, aumax] = uBounds(a);
  const [bumin, bumax] = uBounds(b);
  const [asmin, asmax] = sBounds(a);
  const [bsmin, bsmax] = sBounds(b);
  let v: T.Tnum = T.TNUM_UNKNOWN;
  let umin = 0n;
  let umax = M;
  let smin = SMIN;
  let smax = SMAX;
  const shiftConst = isConstScalar(b) && b.var.value < BigInt(bits) ? Number(b.var.value) : -1;
  switch (op) {
    case 'add':
      v = T.add(a.var, b.var);
      if (aumax + bumax <= M) ((umin = aumin + bumin), (umax = aumax + bumax));
      if (asmin + bsmin >= SMIN && asmax + bsmax <= SMAX) ((smin = asmin + bsmin), (smax = asmax + bsmax));
      break;
    case 'sub':
      v = T.sub(a.var, b.var);
      if (aumin >= bumax) ((umin = aumin - bumax), (umax = aumax - bumin));
      if (asmin - bsmax >= SMIN && asmax - bsmin <= SMAX) ((smin = asmin - bsmax), (smax = asmax - bsmin));
      break;
    case 'mul':
      v = T.mul(a.var, b.var);
      if (aumax * bumax <= M) ((umin = aumin * bumin), (umax = aumax * bumax));
      {
        // scalar_min_max_mul (6.14+): the signed bounds are the least and the most of the four
        // corner products, unless one of them overflows the width
        const corners = [asmin * bsmin, asmin * bsmax, asmax * bsmin, asmax * bsmax];
        if (corners.every((c) => c >= SMIN && c <= SMAX)) ((smin = corners.reduce(min)), (smax = corners.reduce(max)));
      }
      break;
    case 'and':
      v = T.and(a.var, b.var);
      umax = min(aumax, bumax);
      if (asmin >= 0n || bsmin >= 0n) ((smin = 0n), (smax = asmin >= 0n && bsmin >= 0n ? min(asmax, bsmax) : asmin >= 0n ? asmax : bsmax));
      break;
    case 'or':
      v = T.or(a.var, b.var);
      umin = max(aumin, bumin);
      if (asmin >= 0n && bsmin >= 0n) ((smin = 0n), (smax = SMAX));
      break;
    case 'xor':
      v = T.xor(a.var, b.var);
      if (asmin >= 0n && bsmin >= 0n) ((smin = 0n), (smax = SMAX));
      break;
    case 'lsh':
      if (shiftConst < 0) break;
      v = T.lshift(a.var, shiftConst);
      if (aumax << BigInt(shiftConst) <= M) ((umin = aumin << BigInt(shiftConst)), (umax = aumax << BigInt(shiftConst)));
      // __scalar64_min_max_lsh's special case, the `<<32 s>>32` sign extension: nonnegative 32-bit bounds move up whole
      if (bits === 64 && shiftConst === 32) {
        if (a.s32max >= 0n) smax = a.s32max << 32n;
        if (a.s32min >= 0n) smin = a.s32min << 32n;
      }
      break;
    case 'rsh':
      if (shiftConst < 0) break;
      v = T.rshift(fit(a.var), shiftConst);
      umin = aumin >> BigInt(shiftConst);
      umax = aumax >> BigInt(shiftConst);
      break;
    case 'arsh':
      if (shiftConst < 0) break;
      v = T.arshift(fit(a.var), shiftConst, bits);
      smin = asmin >> BigInt(shiftConst);
      smax = asmax >> BigInt(shiftConst);
      break;
    case 'neg':
      v = T.neg(a.var);
      if (asmin > SMIN) ((smin = -asmax), (smax = -asmin));
      break;
    default: // div, mod with a value not known: unknown
      break;
  }
  v = fit(v);
  if (bits === 32) {
    const r: Scalar = {
      ...UNKNOWN,
      var: v,
      umin,
      umax,
      smin: max(SMIN, smin),
      smax: min(SMAX, smax),
      u32min: umin,
      u32max: umax,
      s32min: smin,
      s32max: smax,
    };
    return sync({ ...r, smin: S64MIN, smax: S64MAX, umin: 0n, umax: U32 });
  }
  return sync({ ...UNKNOWN, var: v, umin, umax, smin, smax });
}
