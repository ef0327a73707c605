import { type Scalar, sync } from './scalar.js';
import * as T from './tnum.js';

/** The conditional jumps' comparisons (BPF_JEQ … BPF_JSET), unsigned unless `s`. */
export type CmpOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le' | 'sgt' | 'sge' | 'slt' | 'sle' | 'set';
type Rel = CmpOp | 'clear';

const NEGATE: Readonly<Record<Rel, Rel>> = {
  eq: 'ne',
  ne: 'eq',
  gt: 'le',
  ge: 'lt',
  lt: 'ge',
  le: 'gt',
  sgt: 'sle',
  sge: 'slt',
  slt: 'sge',
  sle: 'sgt',
  set: 'clear',
  clear: 'set',
};
const SWAP: Readonly<Record<Rel, Rel>> = {
  eq: 'eq',
  ne: 'ne',
  gt: 'lt',
  ge: 'le',
  lt: 'gt',
  le: 'ge',
  sgt: 'slt',
  sge: 'sle',
  slt: 'sgt',
  sle: 'sge',
  set: 'set',
  clear: 'clear',
};

interface Range {
  umin: bigint;
  umax: bigint;
  smin: bigint;
  smax: bigint;
  var: T.Tnum;
}

/** view: the bounds a comparison of this width looks at (the low half for JMP32). */
function view(x: Scalar, bits: 32 | 64): Range {
  return bits === 64
    ? { umin: x.umin, umax: x.umax, smin: x.smin, smax: x.smax, var: x.var }
    : { umin: x.u32min, umax: x.u32max, smin: x.s32min, smax: x.s32max, var: T.subreg(x.var) };
}

function put(x: Scalar, r: Range, bits: 32 | 64): Scalar {
  return bits === 64
    ? { ...x, umin: r.umin, umax: r.umax, smin: r.smin, smax: r.smax, var: r.var }
    : { ...x, u32min: r.umin, u32max: r.umax, s32min: r.smin, s32max: r.smax, var: T.withSubreg(x.var, r.var) };
}

/**
 * branchTaken: whether `a OP b` is always true (true), always false (false) or either
 * (undefined), from what is known of both (the kernel's is_branch_taken).
 */
export function branchTaken(op: CmpOp, a: Scalar, b: Scalar, bits: 32 | 64): boolean | undefined {
  const x = view(a, bits);
  const y = view(b, bits);
  const known = (r: Range) => T.isConst(r.var);
  switch (op) {
    case 'eq':
    case 'ne': {
      const differ =
        x.umax < y.umin ||
        y.umax < x.umin ||
        x.smax < y.smin ||
        y.smax < x.smin ||
        ((x.var.value ^ y.var.value) & ~(x.var.mask | y.var.mask)) !== 0n;
      const same = known(x) && known(y) && x.var.value === y.var.value;
      const eq = same ? true : differ ? false : undefined;
      return eq === undefined ? undefined : op === 'eq' ? eq : !eq;
    }
    case 'set':
      if ((x.var.value & y.var.value) !== 0n) return true;
      if (((x.var.value | x.var.mask) & (y.var.value | y.var.mask)) === 0n) return false;
      return undefined;
    case 'gt':
      return x.umin > y.umax ? true : x.umax <= y.umin ? false : undefined;
    case 'ge':
      return x.umin >= y.umax ? true : x.umax < y.umin ? false : undefined;
    case 'lt':
      return x.umax < y.umin ? true : x.umin >= y.umax ? false : undefined;
    case 'le':
      return x.umax <= y.umin ? true : x.umin > y.umax ? false : undefined;
    case 'sgt':
      return x.smin > y.smax ? true : x.smax <= y.smin ? false : undefined;
    case 'sge':
      return x.smin >= y.smax ? true : x.smax < y.smin ? false : undefined;
    case 'slt':
      return x.smax < y.smin ? true : x.smin >= y.smax ? false : undefined;
    case 'sle':
      return x.smax <= y.smin ? true : x.smin > y.smax ? false : undefined;
  }
}

/**
 * refine: what each side is known to be on the branch where `a OP b` is `taken` (the kernel's
 * reg_set_min_max), or undefined when that branch cannot happen.
 */
export function refine(op: CmpOp, a: Scalar, b: Scalar, bits: 32 | 64, taken: boolean): [Scalar, Scalar] | undefined {
  const rel: Rel = taken ? op : NEGATE[op];
  const x = view(a, bits);
  const y = view(b, bits);
  if (!narrow(rel, x, y, bits)) return undefined;
  const ra = sync(put(a, x, bits));
  const rb = sync(put(b, y, bits));
  return valid(ra) && valid(rb) ? [ra, rb] : undefined;
}

const valid = (s: Scalar) =>
  s.umin <= s.umax &&
  s.smin <= s.smax &&
  s.u32min <= s.u32max &&
  s.s32min <= s.s32max &&
  T.umin(s.var) <= s.umax &&
  T.umax(s.var) >= s.umin;

/** narrow applies `x REL y` to both ranges in place; false when no pair of values can satisfy it. */
function narrow(rel: Rel, x: Range, y: Range, bits: 32 | 64): boolean {
  const max = (p: bigint, q: bigint) => (p > q ? p : q);
  const min = (p: bigint, q: bigint) => (p < q ? p : q);
  switch (rel) {
    case 'eq': {
      if (((x.var.value ^ y.var.value) & ~(x.var.mask | y.var.mask)) !== 0n) return false;
      const v = T.intersect(x.var, y.var);
      const umin = max(x.umin, y.umin);
      const umax = min(x.umax, y.umax);
      const smin = max(x.smin, y.smin);
      const smax = min(x.smax, y.smax);
      Object.assign(x, { umin, umax, smin, smax, var: v });
      Object.assign(y, { umin, umax, smin, smax, var: v });
      return umin <= umax && smin <= smax;
    }
    case 'ne':
      // only a known other side says anything: the range's ends move off it
      for (const [p, q] of [
        [x, y],
        [y, x],
      ] as const) {
        if (!T.isConst(q.var)) continue;
        const c = q.var.value;
        if (p.umin === c) p.umin++;
        if (p.umax === c) p.umax--;
        const sc = BigInt.asIntN(bits, c);
        if (p.smin === sc) p.smin++;
        if (p.smax === sc) p.smax--;
      }
      return x.umin <= x.umax && y.umin <= y.umax;
    case 'lt':
      if (y.umax === 0n) return false;
      x.umax = min(x.umax, y.umax - 1n);
      y.umin = max(y.umin, x.umin + 1n);
      return x.umin <= x.umax && y.umin <= y.umax;
    case 'le':
      x.umax = min(x.umax, y.umax);
      y.umin = max(y.umin, x.umin);
      return x.umin <= x.umax && y.umin <= y.umax;
    case 'slt':
      x.smax = min(x.smax, y.smax - 1n);
      y.smin = max(y.smin, x.smin + 1n);
      return x.smin <= x.smax && y.smin <= y.smax;
    case 'sle':
      x.smax = min(x.smax, y.smax);
      y.smin = max(y.smin, x.smin);
      return x.smin <= x.smax && y.smin <= y.smax;
    case 'gt':
    case 'ge':
    case 'sgt':
    case 'sge':
      return narrow(SWAP[rel], y, x, bits);
    case 'set':
      // some bit of both is set: nothing to learn unless one side's only possible bit is known
      return ((x.var.value | x.var.mask) & (y.var.value | y.var.mask)) !== 0n;
    case 'clear':
      // a & b == 0: where the other side is known to have a bit, this side's bit is 0
      if ((x.var.value & y.var.value) !== 0n) return false;
      x.var = T.tnum(x.var.value & ~y.var.value, x.var.mask & ~y.var.value);
      y.var = T.tnum(y.var.value & ~x.var.value, y.var.mask & ~x.var.value);
      return true;
  }
}
