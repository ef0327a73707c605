import * as S from '../../vm/verifier/scalar.js';
import * as T from '../../vm/verifier/tnum.js';

/** fromValues: what a verifier could know of a register holding one of `vals`: their bits and ranges, synced. */
export function fromValues(vals: readonly bigint[]): S.Scalar {
  const m = (a: bigint, b: bigint) => (a < b ? a : b);
  const M = (a: bigint, b: bigint) => (a > b ? a : b);
  let s = S.scalarConst(vals[0]);
  for (const v of vals.slice(1)) {
    const c = S.scalarConst(v);
    s = {
      var: T.union(s.var, c.var),
      umin: m(s.umin, c.umin),
      umax: M(s.umax, c.umax),
      smin: m(s.smin, c.smin),
      smax: M(s.smax, c.smax),
      u32min: m(s.u32min, c.u32min),
      u32max: M(s.u32max, c.u32max),
      s32min: m(s.s32min, c.s32min),
      s32max: M(s.s32max, c.s32max),
    };
  }
  return S.sync(s);
}
