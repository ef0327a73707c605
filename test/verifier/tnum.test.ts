import assert from 'node:assert/strict';
import * as T from '../../vm/verifier/tnum.js';
import { xorshift32 } from '../../pcaps/synth.js';

const U64 = (1n << 64n) - 1n;

/** Random tnums whose masks are sparse or dense, and random members of them. */
function gen(seed: number) {
  const r = xorshift32(seed);
  const r64 = () => (BigInt(r()) << 32n) | BigInt(r());
  const tn = (): T.Tnum => {
    const kind = r() % 4;
    const mask = kind === 0 ? 0n : kind === 1 ? BigInt(r() & 0xff) : kind === 2 ? r64() & r64() : r64();
    return T.tnum(r64(), mask);
  };
  const member = (t: T.Tnum) => t.value | (r64() & t.mask);
  return { tn, member, r };
}

describe('verifier: tnum (tristate numbers)', () => {
  it('every operation is sound: a result holds the concrete result of any members (20,000 random cases each)', () => {
    const { tn, member, r } = gen(7);
    const ops: [string, (a: T.Tnum, b: T.Tnum) => T.Tnum, (x: bigint, y: bigint) => bigint][] = [
      ['add', T.add, (x, y) => (x + y) & U64],
      ['sub', T.sub, (x, y) => (x - y) & U64],
      ['mul', T.mul, (x, y) => (x * y) & U64],
      ['and', T.and, (x, y) => x & y],
      ['or', T.or, (x, y) => x | y],
      ['xor', T.xor, (x, y) => x ^ y],
    ];
    for (const [name, f, c] of ops) {
      for (let i = 0; i < 20_000; i++) {
        const a = tn();
        const b = tn();
        const x = member(a);
        const y = member(b);
        assert.ok(T.contains(f(a, b), c(x, y)), `${name} ${T.show(a)} ${T.show(b)} on ${x} ${y}`);
      }
    }
    for (let i = 0; i < 20_000; i++) {
      const a = tn();
      const x = member(a);
      const s = r() % 64;
      assert.ok(T.contains(T.lshift(a, s), (x << BigInt(s)) & U64));
      assert.ok(T.contains(T.rshift(a, s), x >> BigInt(s)));
      assert.ok(T.contains(T.arshift(a, s, 64), BigInt.asUintN(64, BigInt.asIntN(64, x) >> BigInt(s))));
      assert.ok(T.contains(T.arshift(T.subreg(a), s % 32, 32), BigInt.asUintN(32, BigInt.asIntN(32, x & 0xffffffffn) >> BigInt(s % 32))));
      assert.ok(T.contains(T.neg(a), -x & U64));
      assert.ok(T.contains(T.cast(a, 2), x & 0xffffn));
    }
  });

  it('range, intersection, union and subsets', () => {
    const { r } = gen(9);
    for (let i = 0; i < 5000; i++) {
      const lo = BigInt(r() % 100_000);
      const hi = lo + BigInt(r() % 5000);
      const t = T.tnumRange(lo, hi);
      for (const n of [lo, hi, (lo + hi) / 2n]) assert.ok(T.contains(t, n));
      assert.ok(T.umin(t) <= lo && T.umax(t) >= hi);
    }
    assert.deepEqual(T.tnumRange(0n, 255n), T.tnum(0n, 0xffn));
    assert.deepEqual(T.tnumRange(16n, 31n), T.tnum(16n, 15n));
    const a = T.tnum(0b1000n, 0b0111n); // 8..15
    const b = T.tnum(0b0001n, 0b1110n); // odd, 1..15
    assert.deepEqual(T.intersect(a, b), T.tnum(0b1001n, 0b0110n));
    assert.ok(T.isSubset(T.union(a, b), a) && T.isSubset(T.union(a, b), b));
    assert.ok(T.isSubset(a, T.tnumConst(12n)) && !T.isSubset(a, T.tnumConst(4n)));
  });

  it('hand-computed cases', () => {
    // (x & 0xff) + 1 where x is unknown: bits 0-8 unknown
    assert.deepEqual(T.add(T.and(T.TNUM_UNKNOWN, T.tnumConst(0xffn)), T.tnumConst(1n)), T.tnum(0n, 0x1ffn));
    // 4 * (0 or 1) is 0 or 4
    assert.deepEqual(T.mul(T.tnumConst(4n), T.tnum(0n, 1n)), T.tnum(0n, 4n));
    assert.equal(T.show(T.tnum(0x10n, 0xfn)), '(0x10; 0xf)');
  });
});
