import assert from 'node:assert/strict';
import { Errno } from '../../uapi/errno.js';
import { MapType, UpdateFlag } from '../../uapi/mapType.js';
import type { RingBuf } from '../../maps/ringbuf.js';
import type { SlotArray } from '../../maps/slotArray.js';
import { errnoOf, le32, newMap, u32of } from './support.js';

describe('BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK', () => {
  const Q = { type: MapType.BPF_MAP_TYPE_QUEUE, keySize: 0, valueSize: 4, maxEntries: 2, name: 'q' };
  it('queue: FIFO, E2BIG when full, ENOENT when empty (as bpftool showed)', () => {
    const q = newMap(Q);
    q.pushBytes(le32(1), 0);
    q.pushBytes(le32(2), 0);
    assert.equal(
      errnoOf(() => q.pushBytes(le32(3), 0)),
      Errno.E2BIG,
    );
    assert.equal(u32of(q.peekBytes()), 1);
    assert.equal(u32of(q.lookupAndDeleteBytes(null)), 1);
    assert.equal(u32of(q.lookupAndDeleteBytes(null)), 2);
    assert.equal(
      errnoOf(() => q.lookupAndDeleteBytes(null)),
      Errno.ENOENT,
    );
  });
  it('BPF_EXIST on a full queue drops the oldest', () => {
    const q = newMap(Q);
    for (const v of [1, 2, 3]) q.pushBytes(le32(v), UpdateFlag.BPF_EXIST);
    assert.deepEqual([u32of(q.lookupAndDeleteBytes(null)), u32of(q.lookupAndDeleteBytes(null))], [2, 3]);
  });
  it('stack: LIFO', () => {
    const s = newMap({ ...Q, type: MapType.BPF_MAP_TYPE_STACK, maxEntries: 3 });
    for (const v of [1, 2, 3]) s.pushBytes(le32(v), 0);
    assert.deepEqual(
      [3, 2, 1].map(() => u32of(s.lookupAndDeleteBytes(null))),
      [3, 2, 1],
    );
  });
  it('needs key size 0 and takes only BPF_ANY or BPF_EXIST', () => {
    assert.equal(
      errnoOf(() => newMap({ ...Q, keySize: 4 })),
      Errno.EINVAL,
    );
    assert.equal(
      errnoOf(() => newMap(Q).pushBytes(le32(1), UpdateFlag.BPF_NOEXIST)),
      Errno.EINVAL,
    );
  });
});

describe('BPF_MAP_TYPE_BLOOM_FILTER', () => {
  it('never forgets a value it was given, and rarely claims one it was not', () => {
    const b = newMap({ type: MapType.BPF_MAP_TYPE_BLOOM_FILTER, keySize: 0, valueSize: 4, maxEntries: 1000, name: 'b' });
    for (let i = 0; i < 1000; i++) b.pushBytes(le32(i * 7919), 0);
    for (let i = 0; i < 1000; i++)
      assert.equal(
        errnoOf(() => b.peekBytes(le32(i * 7919))),
        0,
      );
    let falsePositives = 0;
    for (let i = 0; i < 10000; i++) if (errnoOf(() => b.peekBytes(le32(i * 7919 + 1))) === 0) falsePositives++;
    // 5 hashes, 1000 values in 8192 bits: about 2% in theory
    assert.ok(falsePositives < 600, `${falsePositives} false positives in 10000`);
    assert.equal(
      errnoOf(() => b.deleteBytes(le32(0))),
      Errno.EOPNOTSUPP,
    );
  });
});

describe('BPF_MAP_TYPE_RINGBUF', () => {
  const RB = { type: MapType.BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, name: 'rb' };
  it('needs a power-of-two size of at least a page', () => {
    assert.equal(
      errnoOf(() => newMap({ ...RB, maxEntries: 5000 })),
      Errno.EINVAL,
    );
    assert.equal(
      errnoOf(() => newMap({ ...RB, maxEntries: 2048 })),
      Errno.EINVAL,
    );
  });
  it('delivers submitted records in order, skips discarded ones, and stops at a busy one', () => {
    const rb = newMap(RB) as RingBuf;
    const a = rb.reserve(3);
    const b = rb.reserve(5);
    const c = rb.reserve(1);
    rb.space.u8.set([1, 2, 3], a);
    rb.space.u8.set([9], c);
    rb.submit(a);
    rb.submit(b, true);
    assert.deepEqual(
      rb.consume().map((r) => [...r]),
      [[1, 2, 3]],
    ); // c is submitted only below
    rb.submit(c);
    assert.deepEqual(
      rb.consume().map((r) => [...r]),
      [[9]],
    );
    assert.equal(rb.available, 0);
  });
  it('refuses a reservation when full and wraps around with a filler record', () => {
    const rb = newMap(RB) as RingBuf;
    const sizes: number[] = [];
    for (let i = 0; ; i++) {
      const at = rb.reserve(1000);
      if (at === 0) break;
      rb.space.u8.fill(i, at, at + 1000);
      rb.submit(at);
      sizes.push(i);
    }
    assert.equal(sizes.length, 4); // 4 x 1008 bytes fit in 4096, a fifth does not
    assert.equal(rb.consume(2).length, 2);
    const wrapped = rb.reserve(1000); // only 64 bytes left before the end: a filler, then the record at 0
    assert.notEqual(wrapped, 0);
    rb.space.u8.fill(7, wrapped, wrapped + 1000);
    rb.submit(wrapped);
    const rest = rb.consume();
    assert.deepEqual(
      rest.map((r) => r[0]),
      [2, 3, 7],
    );
    assert.ok(rest.every((r) => r.length === 1000));
  });
});

describe('slot arrays: prog array, devmap, cpumap, array of maps', () => {
  it('fd arrays take only BPF_ANY; empty slots are ENOENT', () => {
    const p = newMap({ type: MapType.BPF_MAP_TYPE_PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4, name: 'p' }) as SlotArray;
    assert.equal(
      errnoOf(() => p.lookupBytes(le32(0))),
      Errno.ENOENT,
    );
    assert.equal(
      errnoOf(() => p.updateBytes(le32(0), le32(5), UpdateFlag.BPF_NOEXIST)),
      Errno.EINVAL,
    );
    p.updateBytes(le32(1), le32(42), 0);
    assert.equal(p.slotValue(1), 42);
    assert.equal(
      errnoOf(() => p.updateBytes(le32(4), le32(5), 0)),
      Errno.E2BIG,
    );
    p.deleteBytes(le32(1));
    assert.equal(
      errnoOf(() => p.deleteBytes(le32(1))),
      Errno.ENOENT,
    );
    assert.equal([...p.entries()].length, 0);
  });
  it('devmap refuses BPF_NOEXIST with EEXIST and holds ifindexes', () => {
    const d = newMap({ type: MapType.BPF_MAP_TYPE_DEVMAP, keySize: 4, valueSize: 4, maxEntries: 4, name: 'd' });
    assert.equal(
      errnoOf(() => d.updateBytes(le32(0), le32(3), UpdateFlag.BPF_NOEXIST)),
      Errno.EEXIST,
    );
    d.updateBytes(le32(2), le32(3), 0);
    assert.equal(u32of(d.lookupBytes(le32(2))), 3);
  });
});
