import assert from 'node:assert/strict';
import { R0, R1, R6, R7, add, exit, ldabs, ldind, mov } from '../vm/dsl.js';
import { engines, run } from './support/run.js';

// A 6-byte "packet" behind a fake context at r6; packetLoad reads it big-endian, as the
// kernel's LD_ABS/LD_IND do, and reports out-of-bounds with undefined.
const PACKET = [0x08, 0x00, 0x45, 0x10, 0xaa, 0xbb];
const packetLoad = (_ctx: number, off: number, size: 1 | 2 | 4): number | undefined => {
  if (off < 0 || off + size > PACKET.length) return undefined;
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + PACKET[off + i];
  return v;
};

for (const engine of engines) {
  describe(`LD_ABS / LD_IND (${engine.name})`, () => {
    const opts = { engine, machine: { packetLoad } };
    it('load network-order bytes, halves and words', () => {
      assert.equal(run([mov(R6, R1), ldabs('u8', 2), exit()], opts).r0, 0x45n);
      assert.equal(run([mov(R6, R1), ldabs('u16', 0), exit()], opts).r0, 0x0800n);
      assert.equal(run([mov(R6, R1), ldabs('u32', 2), exit()], opts).r0, 0x4510aabbn);
    });
    it('LD_IND adds the register to the immediate', () => {
      assert.equal(run([mov(R6, R1), mov(R7, 3), ldind('u16', R7, 1), exit()], opts).r0, 0xaabbn);
    });
    it('out of bounds ends the whole program with r0 = 0', () => {
      assert.equal(run([mov(R6, R1), mov(R0, 5), ldabs('u32', 4), add(R0, 1), exit()], opts).r0, 0n);
    });
    it('is refused without a packet context', () => {
      assert.throws(
        () => run([mov(R6, R1), ldabs('u8', 0), exit()], { engine }),
        /insn 1: LD_ABS\/LD_IND need a program type with a packet context/,
      );
    });
  });
}
