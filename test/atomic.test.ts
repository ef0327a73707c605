import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { R0, R1, R2, atomic, exit, ldx, lddw, mov, stx } from '../vm/dsl.js';
import { AddressSpace, Perm } from '../vm/memory.js';
import { engines, run } from './support/run.js';

type Op = Parameters<typeof atomic>[0];
// [op, width, initial memory, src, expected memory, expected src after, expected r0 after]
const CASES: readonly [Op, 'u32' | 'u64', bigint, bigint, bigint, bigint][] = [
  ['add', 'u64', 0x123456789abcdef0n, 1n, 0x123456789abcdef1n, 1n],
  ['add', 'u32', 0xffffffffn, 1n, 0n, 1n],
  ['or', 'u64', 0x1100000000n, 0x22n, 0x1100000022n, 0x22n],
  ['and', 'u32', 0xf0f0f0f0n, 0xff00ff00n, 0xf000f000n, 0xff00ff00n],
  ['xor', 'u64', 0xffffffffffffffffn, 0xffn, 0xffffffffffffff00n, 0xffn],
  ['fetch_add', 'u64', 0x100000000n, 5n, 0x100000005n, 0x100000000n],
  ['fetch_add', 'u32', 0xaa00000001n, 5n, 0xaa00000006n, 1n],
  ['fetch_or', 'u32', 0x10n, 0x01n, 0x11n, 0x10n],
  ['fetch_and', 'u64', 0xffn, 0x0fn, 0x0fn, 0xffn],
  ['fetch_xor', 'u64', 0xffn, 0x0fn, 0xf0n, 0xffn],
  ['xchg', 'u64', 0x1111111122222222n, 0x3333333344444444n, 0x3333333344444444n, 0x1111111122222222n],
  ['xchg', 'u32', 0x1111111122222222n, 0x3333333344444444n, 0x1111111144444444n, 0x22222222n],
];

for (const engine of engines) {
  describe(`atomics (${engine.name})`, () => {
    for (const [op, w, initial, src, mem, srcAfter] of CASES) {
      it(`${op} ${w}`, () => {
        const r = run(
          [
            lddw(R2, initial),
            stx('u64', R1, 0, R2),
            lddw(R2, src),
            atomic(op, w, R1, 0, R2),
            ldx('u64', R0, R1, 0),
            stx('u64', R1, 8, R2),
            exit(),
          ],
          { engine, mem: new Uint8Array(16) },
        );
        assert.equal(r.r0, mem);
        assert.equal(new DataView(r.mem.buffer).getBigUint64(8, true), srcAfter);
      });
    }
    it('cmpxchg stores when r0 matches and returns the old value in r0', () => {
      const hit = run(
        [
          lddw(R2, 7n),
          stx('u64', R1, 0, R2),
          mov(R0, 7),
          mov(R2, 9),
          atomic('cmpxchg', 'u64', R1, 0, R2),
          ldx('u64', R2, R1, 0),
          stx('u64', R1, 8, R2),
          exit(),
        ],
        { engine, mem: new Uint8Array(16) },
      );
      assert.equal(hit.r0, 7n);
      assert.equal(new DataView(hit.mem.buffer).getBigUint64(8, true), 9n);
      const miss = run(
        [
          lddw(R2, 7n),
          stx('u64', R1, 0, R2),
          mov(R0, 8),
          mov(R2, 9),
          atomic('cmpxchg', 'u32', R1, 0, R2),
          ldx('u64', R2, R1, 0),
          stx('u64', R1, 8, R2),
          exit(),
        ],
        { engine, mem: new Uint8Array(16) },
      );
      assert.equal(miss.r0, 7n);
      assert.equal(new DataView(miss.mem.buffer).getBigUint64(8, true), 7n);
    });
    it('a misaligned atomic faults', () => {
      assert.throws(
        () => run([mov(R0, 0), mov(R2, 1), atomic('add', 'u64', R1, 4, R2), exit()], { engine, mem: new Uint8Array(16) }),
        /insn 2: misaligned atomic/,
      );
    });
  });
}

describe('atomics are real atomic operations on the shared memory', function () {
  this.timeout(60_000);
  it('two threads adding 1 a million times each lose no update', async () => {
    const memory = new AddressSpace({ initialBytes: 1 << 20 });
    const counter = memory.map(8, Perm.RW, 'counter');
    const stacks = [memory.map(4096, Perm.RW, 'stack/cpu0'), memory.map(4096, Perm.RW, 'stack/cpu1')];
    const rounds = 1_000_000;
    const worker = (cpu: number) =>
      new Worker(new URL('./support/atomicWorker.js', import.meta.url), {
        workerData: { space: memory.snapshot(), stack: stacks[cpu], counter: counter.start, rounds },
      });
    await Promise.all([worker(0), worker(1)].map((w) => new Promise((ok, fail) => w.on('exit', ok).on('error', fail))));
    assert.equal(memory.view.getBigUint64(counter.start, true), BigInt(2 * rounds));
  });
});
