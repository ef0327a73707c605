import assert from 'node:assert/strict';
import { stackify } from '../../vm/jit/stackify.js';

/** The constructs as [kind, start, end] triples, in opening order (hand-worked for each graph). */
const shape = (edges: number[][]) => stackify(edges)?.map((c) => [c.kind, c.start, c.end]);

describe("JIT: stackify (structured control flow from the blocks' branches)", () => {
  it('a straight line needs nothing; a forward branch a block ending at its target', () => {
    assert.deepEqual(shape([[], [], []]), []);
    // 0 -> 2 (skipping 1): a block from 0 to 2
    assert.deepEqual(shape([[2], [], []]), [['block', 0, 2]]);
  });
  it('a loop: blocks 1..2 with 2 -> 1, left by 2 -> 3 falling through', () => {
    assert.deepEqual(shape([[], [], [1], []]), [['loop', 1, 3]]);
  });
  it('a branch out of a loop opens its block before the loop', () => {
    // 1..3 loop (3 -> 1), 2 -> 5 leaves it: the block for 5 starts at 1, outside the loop
    assert.deepEqual(shape([[], [], [5], [1], [], []]), [
      ['block', 1, 5],
      ['loop', 1, 4],
    ]);
  });
  it('nested loops, and a back edge from the inner one to the outer header', () => {
    // outer 1..4 (4 -> 1), inner 2..3 (3 -> 2, 3 -> 1 too)
    assert.deepEqual(shape([[], [], [], [2, 1], [1], []]), [
      ['loop', 1, 5],
      ['loop', 2, 4],
    ]);
  });
  it('crossing forward branches become one inside the other', () => {
    // 0 -> 2 and 1 -> 3 cross: the block for 3 opens at 0, around the one for 2
    assert.deepEqual(shape([[2], [3], [], []]), [
      ['block', 0, 3],
      ['block', 0, 2],
    ]);
  });
  it('a branch into the middle of a loop (irreducible), and crossing loops, are left to the dispatch', () => {
    // loop 1..3 (3 -> 1), 0 -> 2 enters it past its header
    assert.equal(stackify([[2], [], [], [1], []]), undefined);
    // loops 1..3 (3 -> 1) and 2..4 (4 -> 2) cross
    assert.equal(stackify([[], [], [], [1], [2], []]), undefined);
  });
});
