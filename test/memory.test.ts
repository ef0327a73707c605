import assert from 'node:assert/strict';
import { R0, R1, R2, R10, add, exit, ldx, ldxs, lddw, mov, st, stx } from '../vm/dsl.js';
import { MemoryFault } from '../vm/errors.js';
import { AddressSpace, PAGE_SIZE, Perm } from '../vm/memory.js';
import { engines, run } from './support/run.js';

const MEM = Uint8Array.from([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa]);

describe('AddressSpace', () => {
  it('never maps page 0 and aligns regions to pages', () => {
    const space = new AddressSpace({ initialBytes: 1 << 20 });
    const a = space.map(10, Perm.RW, 'a');
    const b = space.map(PAGE_SIZE + 1, Perm.READ, 'b');
    assert.equal(a.start, PAGE_SIZE);
    assert.equal(b.start, 2 * PAGE_SIZE);
    assert.equal(space.find(0, 1, Perm.READ), undefined);
    assert.equal(space.find(a.start + 9, 1, Perm.RW), a);
    assert.equal(space.find(a.start + 9, 2, Perm.READ), undefined, 'crosses the end of the region');
    assert.equal(space.find(b.start, 1, Perm.RW), undefined, 'b is read-only');
  });
  it('grows the shared memory on demand', () => {
    const space = new AddressSpace({ initialBytes: 65536 });
    const r = space.map(1 << 20, Perm.RW, 'big');
    assert.ok(space.memory.buffer.byteLength >= r.start + r.size);
    space.u8[r.start + r.size - 1] = 7;
    assert.equal(space.view.getUint8(r.start + r.size - 1), 7);
  });
  it('a region past the maximum is refused, naming the region and what is left; the space is as it was', () => {
    const space = new AddressSpace({ initialBytes: 65536, maximumBytes: 4 << 20 });
    space.map(3 << 20, Perm.RW, 'first');
    const left = space.unmapped;
    assert.equal(left, (4 << 20) - 4096 - (3 << 20));
    assert.throws(
      () => space.map(2 << 20, Perm.RW, 'second'),
      new RangeError(`map second: ${2 << 20} bytes do not fit in the address space (${left} of its ${4 << 20} bytes are left)`),
    );
    assert.equal(space.unmapped, left);
    assert.equal(space.regions.length, 1);
    assert.equal(space.map(left, Perm.RW, 'rest').size, left);
  });
});

for (const engine of engines) {
  describe(`LDX/ST/STX (${engine.name})`, () => {
    it('loads little-endian values of each size, zero-extended', () => {
      assert.equal(run([ldx('u8', R0, R1, 9), exit()], { engine, mem: MEM }).r0, 0xaan);
      assert.equal(run([ldx('u16', R0, R1, 1), exit()], { engine, mem: MEM }).r0, 0x3322n);
      assert.equal(run([ldx('u32', R0, R1, 2), exit()], { engine, mem: MEM }).r0, 0x66554433n);
      assert.equal(run([ldx('u64', R0, R1, 2), exit()], { engine, mem: MEM }).r0, 0xaa99887766554433n);
    });
    it('sign-extending loads (MEMSX)', () => {
      assert.equal(run([ldxs('s8', R0, R1, 9), exit()], { engine, mem: MEM }).r0, 0xffffffffffffffaan);
      assert.equal(run([ldxs('s16', R0, R1, 8), exit()], { engine, mem: MEM }).r0, 0xffffffffffffaa99n);
      assert.equal(run([ldxs('s32', R0, R1, 6), exit()], { engine, mem: MEM }).r0, 0xffffffffaa998877n);
      assert.equal(run([ldxs('s8', R0, R1, 0), exit()], { engine, mem: MEM }).r0, 0x11n);
    });
    it('stores registers and immediates of each size', () => {
      const r = run(
        [
          lddw(R2, 0x0102030405060708n),
          stx('u64', R1, 0, R2),
          st('u8', R1, 8, 0xfe),
          st('u16', R1, 10, -2),
          st('u32', R1, 12, 0x7abbccdd),
          mov(R0, 0),
          exit(),
        ],
        { engine, mem: new Uint8Array(16) },
      );
      assert.deepEqual([...r.mem], [8, 7, 6, 5, 4, 3, 2, 1, 0xfe, 0, 0xfe, 0xff, 0xdd, 0xcc, 0xbb, 0x7a]);
    });
    it('st with u64 sign-extends the immediate', () => {
      const r = run([st('u64', R1, 0, -1), ldx('u64', R0, R1, 0), exit()], { engine, mem: new Uint8Array(8) });
      assert.equal(r.r0, 0xffffffffffffffffn);
    });
    it('each call frame has 512 bytes of stack below r10', () => {
      const r = run([st('u64', R10, -512, 42), ldx('u64', R0, R10, -512), exit()], { engine });
      assert.equal(r.r0, 42n);
    });
    it('a NULL load faults, naming the pc and the address', () => {
      assert.throws(
        () => run([mov(R1, 0), ldx('u32', R0, R1, 0), exit()], { engine }),
        (e: unknown) => {
          assert.ok(e instanceof MemoryFault);
          assert.equal(e.pc, 1);
          assert.equal(e.address, 0);
          assert.match(e.message, /insn 1: invalid read of 4 bytes at 0x0/);
          return true;
        },
      );
    });
    it('reading past the end of a region faults', () => {
      assert.throws(() => run([ldx('u64', R0, R1, 4), exit()], { engine, mem: MEM }), /insn 0: invalid read of 8 bytes/);
    });
    it('an address above 32 bits faults with the full address', () => {
      assert.throws(() => run([lddw(R1, 0x100001000n), ldx('u8', R0, R1, 0), exit()], { engine }), /at 0x100001000/);
    });
    it('writing below the stack faults', () => {
      assert.throws(() => run([mov(R0, 0), st('u64', R10, -4104, 1), exit()], { engine }), /insn 1: invalid write of 8 bytes/);
    });
    it('writing a read-only region faults; reading it works', () => {
      const ro = (space: AddressSpace) => {
        const r = space.map(8, Perm.READ, 'rodata');
        space.u8[r.start] = 9;
        return r.start;
      };
      let addr = 0;
      const prog = () => [lddw(R2, addr), ldx('u8', R0, R2, 0), stx('u8', R2, 0, R0), exit()];
      const memory = new AddressSpace({ initialBytes: 1 << 20 });
      addr = ro(memory);
      assert.throws(() => run(prog(), { engine, machine: { memory } }), /insn 3: invalid write of 1 byte at/);
      const read = run([lddw(R2, addr), ldx('u8', R0, R2, 0), add(R0, 1), exit()], { engine, machine: { memory } });
      assert.equal(read.r0, 10n);
    });
  });
}
