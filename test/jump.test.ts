import assert from 'node:assert/strict';
import { R0, R1, R2, alu64, exit, ja, gotol, jmp, label, lddw, mov } from '../vm/dsl.js';
import { engines, run } from './support/run.js';

type JmpName = Parameters<typeof jmp>[0];
// [op, a, b, taken?] — decided by hand from the operands' signed/unsigned values.
const CASES64: readonly [JmpName, bigint, bigint, boolean][] = [
  ['jeq', 0x100000001n, 0x100000001n, true],
  ['jeq', 0x100000001n, 0x000000001n, false],
  ['jne', 0x100000001n, 0x200000001n, true],
  ['jgt', 0x100000000n, 0xffffffffn, true],
  ['jgt', 0xffffffffffffffffn, 1n, true],
  ['jge', 5n, 5n, true],
  ['jlt', 1n, 0xffffffffffffffffn, true],
  ['jle', 0x200000000n, 0x100000000n, false],
  ['jsgt', 0xffffffffffffffffn, 1n, false], // -1 > 1 is false
  ['jsgt', 1n, 0xffffffffffffffffn, true],
  ['jsge', 0x8000000000000000n, 0x8000000000000000n, true],
  ['jslt', 0x8000000000000000n, 0n, true], // INT64_MIN < 0
  ['jsle', 0n, 0xffffffff00000000n, false], // 0 <= -2^32 is false
  ['jslt', 0xfffffffe00000000n, 0xffffffff00000000n, true],
  ['jset', 0x100000000n, 0x300000000n, true],
  ['jset', 0x100000000n, 0x0ffffffffn, false],
];
const CASES32: readonly [JmpName, bigint, bigint, boolean][] = [
  ['jeq', 0x100000001n, 0x200000001n, true], // only the low halves compare
  ['jgt', 0x80000000n, 0x7fffffffn, true],
  ['jsgt', 0x80000000n, 0x7fffffffn, false], // INT32_MIN > INT32_MAX is false
  ['jslt', 0xffffffffn, 0n, true],
  ['jle', 0x1ffffffffn, 0xffffffffn, true],
  ['jset', 0x100000000n, 0x100000000n, false],
];

for (const engine of engines) {
  describe(`JMP (${engine.name})`, () => {
    const program = (op: JmpName, a: bigint, b: bigint, bits: 32 | 64) => [
      lddw(R1, a),
      lddw(R2, b),
      mov(R0, 1),
      jmp(op, R1, R2, 'yes', bits),
      mov(R0, 0),
      label('yes'),
      exit(),
    ];
    for (const [op, a, b, taken] of CASES64) {
      it(`${op} 0x${a.toString(16)}, 0x${b.toString(16)} is ${taken ? '' : 'not '}taken`, () => {
        assert.equal(run(program(op, a, b, 64), { engine }).r0, taken ? 1n : 0n);
      });
    }
    for (const [op, a, b, taken] of CASES32) {
      it(`${op}32 0x${a.toString(16)}, 0x${b.toString(16)} is ${taken ? '' : 'not '}taken`, () => {
        assert.equal(run(program(op, a, b, 32), { engine }).r0, taken ? 1n : 0n);
      });
    }
    it('immediate operands are sign-extended for 64-bit compares', () => {
      const p = [lddw(R1, 0xffffffffffffffffn), mov(R0, 1), jmp('jeq', R1, -1, 'yes'), mov(R0, 0), label('yes'), exit()];
      assert.equal(run(p, { engine }).r0, 1n);
    });
    it('ja and gotol jump forward and backward', () => {
      const p = [mov(R0, 0), ja('fwd'), label('back'), alu64('add', R0, 2), exit(), label('fwd'), mov(R0, 40), gotol('back')];
      assert.equal(run(p, { engine }).r0, 42n);
    });
    it('a counted loop runs the right number of times', () => {
      // r0 = 0; for (r1 = 10; r1 != 0; r1--) r0 += 3;  => 30
      const p = [
        mov(R0, 0),
        mov(R1, 10),
        label('top'),
        jmp('jeq', R1, 0, 'out'),
        alu64('add', R0, 3),
        alu64('sub', R1, 1),
        ja('top'),
        label('out'),
        exit(),
      ];
      const r = run(p, { engine });
      assert.equal(r.r0, 30n);
      assert.equal(r.executed, 2 + 10 * 4 + 2); // setup, ten rounds of four, final test and exit
    });
  });
}
