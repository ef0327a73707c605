import assert from 'node:assert/strict';
import { type CmpOp, branchTaken, refine } from '../../vm/verifier/branch.js';
import * as S from '../../vm/verifier/scalar.js';
import * as T from '../../vm/verifier/tnum.js';
import { xorshift32 } from '../../pcaps/synth.js';
import { fromValues } from '../support/scalars.js';

const U64 = (1n << 64n) - 1n;

/** holds: the comparison on concrete values, as the interpreter's jumps compute it. */
function holds(op: CmpOp, a: bigint, b: bigint, bits: 32 | 64): boolean {
  const x = BigInt.asUintN(bits, a);
  const y = BigInt.asUintN(bits, b);
  const sx = BigInt.asIntN(bits, a);
  const sy = BigInt.asIntN(bits, b);
  return {
    eq: x === y,
    ne: x !== y,
    gt: x > y,
    ge: x >= y,
    lt: x < y,
    le: x <= y,
    sgt: sx > sy,
    sge: sx >= sy,
    slt: sx < sy,
    sle: sx <= sy,
    set: (x & y) !== 0n,
  }[op];
}

describe('verifier: conditional jumps', () => {
  it('refinement keeps every pair that takes the branch, and branchTaken is never wrong (random cases)', () => {
    const r = xorshift32(11);
    const r64 = () => (BigInt(r()) << 32n) | BigInt(r());
    const pick = () => {
      const k = r() % 4;
      const base = k === 0 ? r64() : k === 1 ? BigInt(r() % 16) : k === 2 ? BigInt(r() % 400) - 200n : BigInt(r());
      return Array.from({ length: 1 + (r() % 4) }, () => (base + BigInt(r() % (k === 1 ? 4 : 100))) & U64);
    };
    const ops: CmpOp[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'sgt', 'sge', 'slt', 'sle', 'set'];
    let decided = 0;
    for (const bits of [64, 32] as const) {
      for (const op of ops) {
        for (let i = 0; i < 2000; i++) {
          const av = pick();
          const bv = r() % 3 === 0 ? [av[0]] : pick();
          const a = fromValues(av);
          const b = fromValues(bv);
          const taken = branchTaken(op, a, b, bits);
          for (const t of [true, false]) {
            const ref = refine(op, a, b, bits, t);
            for (const x of av)
              for (const y of bv) {
                if (holds(op, x, y, bits) !== t) continue;
                assert.notEqual(taken, !t, `${op}${bits}: branchTaken says ${taken} but ${x} ${y} goes ${t}`);
                assert.ok(ref, `${op}${bits} ${t}: refine says impossible for ${x} ${y}`);
                assert.ok(S.contains(ref[0], x) && S.contains(ref[1], y), `${op}${bits} ${t}: ${x} ${y} lost`);
              }
          }
          if (taken !== undefined) decided++;
        }
      }
    }
    assert.ok(decided > 1000, 'branchTaken decides often enough to matter');
  });

  it('hand-computed: bounds checks a program makes', () => {
    const len = S.alu('and', S.UNKNOWN, S.scalarConst(0xffffn), 64); // 0..65535
    const [lt] = refine('lt', len, S.scalarConst(1500n), 64, true)!;
    assert.deepEqual([lt.umin, lt.umax], [0n, 1499n]);
    const [ge] = refine('lt', len, S.scalarConst(1500n), 64, false)!;
    assert.deepEqual([ge.umin, ge.umax], [1500n, 65535n]);
    const [eq] = refine('eq', len, S.scalarConst(42n), 64, true)!;
    assert.ok(S.isConstScalar(eq) && eq.umin === 42n);
    assert.equal(refine('gt', len, S.scalarConst(70000n), 64, true), undefined, 'a 16-bit value is never above 70000');
    assert.equal(branchTaken('gt', len, S.scalarConst(70000n), 64), false);
    const [neg] = refine('slt', S.UNKNOWN, S.scalarConst(0n), 64, true)!;
    assert.ok(neg.smax === -1n && neg.umin === 1n << 63n, 'signed below zero: the top bit is set');
    const [clear] = refine('set', S.UNKNOWN, S.scalarConst(1n), 64, false)!;
    assert.equal(T.show(clear.var), `(0x0; 0x${(U64 - 1n).toString(16)})`, 'x & 1 == 0: bit 0 known clear');
  });
});
