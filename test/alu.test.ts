import assert from 'node:assert/strict';
import { R0, R1, alu32, alu64, endian, exit, lddw, mov, movsx, neg } from '../vm/dsl.js';
import { engines, run, u64 } from './support/run.js';

// Each case: r0 = a; r1 = b; r0 op= (r1 | imm); expected computed by hand (two's complement).
type Case = readonly [name: string, op: Parameters<typeof alu64>[0], a: bigint, b: bigint, expected: bigint];

const ALU64: readonly Case[] = [
  ['add wraps', 'add', 0xffffffffffffffffn, 2n, 1n],
  ['add carries into high half', 'add', 0xffffffffn, 1n, 0x100000000n],
  ['sub borrows', 'sub', 0x100000000n, 1n, 0xffffffffn],
  ['sub below zero', 'sub', 0n, 1n, 0xffffffffffffffffn],
  ['mul low 64 bits', 'mul', 0x123456789n, 0x1000n, 0x123456789000n],
  ['mul crosses halves', 'mul', 0xffffffffn, 0xffffffffn, 0xfffffffe00000001n],
  ['mul negative', 'mul', u64(-3n), 7n, u64(-21n)],
  ['div unsigned', 'div', u64(-1n), 2n, 0x7fffffffffffffffn],
  ['div by zero is 0', 'div', 1234n, 0n, 0n],
  ['mod unsigned', 'mod', 0x100000005n, 0x10n, 5n],
  ['mod by zero keeps dst', 'mod', 0x1234567890n, 0n, 0x1234567890n],
  ['sdiv negative', 'sdiv', u64(-7n), 2n, u64(-3n)],
  ['sdiv INT64_MIN by -1', 'sdiv', 0x8000000000000000n, u64(-1n), 0x8000000000000000n],
  ['sdiv by zero is 0', 'sdiv', u64(-5n), 0n, 0n],
  ['smod sign of dividend', 'smod', u64(-7n), 3n, u64(-1n)],
  ['smod INT64_MIN by -1 is 0', 'smod', 0x8000000000000000n, u64(-1n), 0n],
  ['smod by zero keeps dst', 'smod', u64(-7n), 0n, u64(-7n)],
  ['sdiv wide operands', 'sdiv', u64(-0x10000000000n), 0x100n, u64(-0x100000000n)],
  ['or', 'or', 0xf0f0000000000000n, 0x0f0fn, 0xf0f0000000000f0fn],
  ['and', 'and', 0xff00ff00ff00ff00n, 0x0ff00ff00ff00ff0n, 0x0f000f000f000f00n],
  ['xor', 'xor', 0xffffffffffffffffn, 0x1n, 0xfffffffffffffffen],
  ['lsh across halves', 'lsh', 1n, 35n, 0x800000000n],
  ['lsh masks count by 63', 'lsh', 1n, 65n, 2n],
  ['rsh logical', 'rsh', 0x8000000000000000n, 63n, 1n],
  ['rsh across halves', 'rsh', 0x1234567800000000n, 4n, 0x0123456780000000n],
  ['arsh keeps sign', 'arsh', 0x8000000000000000n, 63n, 0xffffffffffffffffn],
  ['arsh across halves', 'arsh', u64(-0x100000000n), 4n, u64(-0x10000000n)],
  ['mov', 'mov', 5n, 0xdeadbeefcafen, 0xdeadbeefcafen],
];

const ALU32: readonly Case[] = [
  ['add wraps and clears high half', 'add', 0xaaaaaaaaffffffffn, 2n, 1n],
  ['sub', 'sub', 0n, 1n, 0xffffffffn],
  ['mul', 'mul', 0x10000n, 0x10001n, 0x10000n],
  ['div unsigned 32-bit', 'div', 0xffffffffn, 2n, 0x7fffffffn],
  ['div ignores high half of divisor', 'div', 12n, 0x100000004n, 3n],
  ['div by zero is 0', 'div', 7n, 0n, 0n],
  ['mod by zero keeps low half, zero-extended', 'mod', 0x1200000034n, 0n, 0x34n],
  ['sdiv', 'sdiv', 0xfffffff9n, 2n, 0xfffffffdn],
  ['sdiv INT32_MIN by -1', 'sdiv', 0x80000000n, 0xffffffffn, 0x80000000n],
  ['smod INT32_MIN by -1 is 0', 'smod', 0x80000000n, 0xffffffffn, 0n],
  ['smod', 'smod', 0xfffffff9n, 3n, 0xffffffffn],
  ['lsh masks count by 31', 'lsh', 1n, 33n, 2n],
  ['rsh', 'rsh', 0x80000000n, 31n, 1n],
  ['arsh', 'arsh', 0x80000000n, 31n, 0xffffffffn],
  ['xor', 'xor', 0xff00ff00n, 0xffffn, 0xff0000ffn],
  ['mov zero-extends', 'mov', 0n, 0xffffffffffffffffn, 0xffffffffn],
];

for (const engine of engines) {
  describe(`ALU (${engine.name})`, () => {
    for (const [name, op, a, b, expected] of ALU64) {
      it(`alu64 ${op}: ${name} (register)`, () => {
        assert.equal(run([lddw(R0, a), lddw(R1, b), alu64(op, R0, R1), exit()], { engine }).r0, expected);
      });
    }
    for (const [name, op, a, b, expected] of ALU32) {
      it(`alu32 ${op}: ${name} (register)`, () => {
        assert.equal(run([lddw(R0, a), lddw(R1, b), alu32(op, R0, R1), exit()], { engine }).r0, expected);
      });
    }
    it('alu64 immediates are sign-extended to 64 bits', () => {
      assert.equal(run([mov(R0, 0), alu64('add', R0, -1), exit()], { engine }).r0, 0xffffffffffffffffn);
      assert.equal(run([lddw(R0, 0x100000000n), alu64('div', R0, -1), exit()], { engine }).r0, 0n);
      assert.equal(run([mov(R0, -1), alu64('and', R0, 0x7fffffff), exit()], { engine }).r0, 0x7fffffffn);
    });
    it('alu32 immediates use the low 32 bits', () => {
      assert.equal(run([mov(R0, -1), alu32('div', R0, -1), exit()], { engine }).r0, 1n);
      assert.equal(run([mov(R0, 9), alu32('sdiv', R0, -2), exit()], { engine }).r0, 0xfffffffcn);
    });
    it('neg in 64 and 32 bits', () => {
      assert.equal(run([mov(R0, 1), neg(R0), exit()], { engine }).r0, 0xffffffffffffffffn);
      assert.equal(run([lddw(R0, 0x100000000n), neg(R0), exit()], { engine }).r0, 0xffffffff00000000n);
      assert.equal(run([mov(R0, 1), neg(R0, 32), exit()], { engine }).r0, 0xffffffffn);
      assert.equal(run([mov(R0, 0), neg(R0), exit()], { engine }).r0, 0n);
    });
    it('movsx sign-extends 8, 16 and 32 bits', () => {
      assert.equal(run([mov(R1, 0x180), movsx(R0, R1, 8), exit()], { engine }).r0, 0xffffffffffffff80n);
      assert.equal(run([mov(R1, 0x18000), movsx(R0, R1, 16), exit()], { engine }).r0, 0xffffffffffff8000n);
      assert.equal(run([lddw(R1, 0x80000000n), movsx(R0, R1, 32), exit()], { engine }).r0, 0xffffffff80000000n);
      assert.equal(run([mov(R1, 0x80), movsx(R0, R1, 8, 32), exit()], { engine }).r0, 0xffffff80n);
      assert.equal(run([mov(R1, 0x7f), movsx(R0, R1, 8), exit()], { engine }).r0, 0x7fn);
    });
    it('le truncates, be and bswap swap bytes', () => {
      const v = 0x0102030405060708n;
      assert.equal(run([lddw(R0, v), endian('le', R0, 16), exit()], { engine }).r0, 0x0708n);
      assert.equal(run([lddw(R0, v), endian('le', R0, 32), exit()], { engine }).r0, 0x05060708n);
      assert.equal(run([lddw(R0, v), endian('le', R0, 64), exit()], { engine }).r0, v);
      assert.equal(run([lddw(R0, v), endian('be', R0, 16), exit()], { engine }).r0, 0x0807n);
      assert.equal(run([lddw(R0, v), endian('be', R0, 32), exit()], { engine }).r0, 0x08070605n);
      assert.equal(run([lddw(R0, v), endian('be', R0, 64), exit()], { engine }).r0, 0x0807060504030201n);
      assert.equal(run([lddw(R0, v), endian('bswap', R0, 16), exit()], { engine }).r0, 0x0807n);
      assert.equal(run([lddw(R0, v), endian('bswap', R0, 64), exit()], { engine }).r0, 0x0807060504030201n);
    });
  });
}
