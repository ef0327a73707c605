import assert from 'node:assert/strict';
import * as S from '../../vm/verifier/scalar.js';
import * as T from '../../vm/verifier/tnum.js';
import { xorshift32 } from '../../pcaps/synth.js';
import { fromValues } from '../support/scalars.js';

const U64 = (1n << 64n) - 1n;
const U32 = (1n << 32n) - 1n;

/** concrete: the interpreter's result for the same operation, written out independently of scalar.ts. */
function run(op: S.AluOpName, a: bigint, b: bigint, bits: 32 | 64): bigint {
  const m = bits === 32 ? U32 : U64;
  const x = a & m;
  const y = b & m;
  const sh = y & BigInt(bits - 1);
  const r = {
    add: x + y,
    sub: x - y,
    mul: x * y,
    div: y ? x / y : 0n,
    mod: y ? x % y : x,
    and: x & y,
    or: x | y,
    xor: x ^ y,
    lsh: x << sh,
    rsh: x >> sh,
    arsh: BigInt.asIntN(bits, x) >> sh,
    mov: y,
    neg: -x,
    sdiv: y ? BigInt.asIntN(bits, x) / BigInt.asIntN(bits, y) : 0n,
    smod: y ? BigInt.asIntN(bits, x) % BigInt.asIntN(bits, y) : x,
  }[op];
  return r & m;
}

describe('verifier: scalar bounds', () => {
  it('sync keeps every value it was given (random sets)', () => {
    const r = xorshift32(3);
    const r64 = () => (BigInt(r()) << 32n) | BigInt(r());
    for (let i = 0; i < 3000; i++) {
      const base = r() % 3 === 0 ? r64() : BigInt(r() % 1000) - 500n;
      const vals = Array.from({ length: 1 + (r() % 5) }, () => (base + BigInt(r() % 300)) & U64);
      const s = fromValues(vals);
      for (const v of vals) assert.ok(S.contains(s, v), `${v} in ${JSON.stringify(s, (_k, x) => (typeof x === 'bigint' ? String(x) : x))}`);
    }
  });

  it('every ALU operation, 64- and 32-bit, holds the concrete result of any members (random cases)', function () {
    this.timeout(20_000);
    const r = xorshift32(5);
    const r64 = () => (BigInt(r()) << 32n) | BigInt(r());
    const ops: S.AluOpName[] = ['add', 'sub', 'mul', 'div', 'mod', 'sdiv', 'smod', 'and', 'or', 'xor', 'lsh', 'rsh', 'arsh', 'mov', 'neg'];
    const pick = () => {
      const k = r() % 4;
      const base = k === 0 ? r64() : k === 1 ? BigInt(r() % 64) : k === 2 ? BigInt(r() % 2000) - 1000n : BigInt(r());
      return Array.from({ length: 1 + (r() % 4) }, () => (base + BigInt(r() % (k === 1 ? 4 : 200))) & U64);
    };
    let n = 0;
    for (const bits of [64, 32] as const) {
      for (const op of ops) {
        for (let i = 0; i < 1500; i++) {
          const av = pick();
          const bv = pick();
          const res = S.alu(op, fromValues(av), fromValues(bv), bits);
          for (const x of av)
            for (const y of bv) {
              n++;
              assert.ok(
                S.contains(res, run(op, x, y, bits)),
                `${op}${bits} ${x} ${y}: ${run(op, x, y, bits)} not in ${JSON.stringify(res, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`,
              );
            }
        }
      }
    }
    assert.ok(n > 50_000);
  });

  it('hand-computed precision: what a verifier must know to accept common code', () => {
    const u8 = S.alu('and', S.UNKNOWN, S.scalarConst(0xffn), 64); // r & 0xff
    assert.equal(u8.umax, 255n);
    assert.equal(u8.smin, 0n);
    const plus = S.alu('add', u8, S.scalarConst(14n), 64); // + 14
    assert.deepEqual([plus.umin, plus.umax], [14n, 269n]);
    const w = S.alu('lsh', u8, S.scalarConst(2n), 64); // << 2
    assert.deepEqual([w.umin, w.umax, T.show(w.var)], [0n, 1020n, '(0x0; 0x3fc)']);
    const z = S.alu('add', S.scalarConst(0xffffffffn), S.scalarConst(1n), 32); // 32-bit wrap
    assert.ok(S.isConstScalar(z) && z.umax === 0n);
    assert.deepEqual(S.alu('div', S.scalarConst(7n), S.scalarConst(0n), 64), S.scalarConst(0n));
  });
});
