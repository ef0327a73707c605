import assert from 'node:assert/strict';
import { Errno } from '../../uapi/errno.js';
import { MapType, UpdateFlag } from '../../uapi/mapType.js';
import { errnoOf, le32, newMap, u32of } from './support.js';

const HASH = { type: MapType.BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 4, maxEntries: 2, name: 'h' };
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('BPF_MAP_TYPE_HASH', () => {
  it('E2BIG when full, EEXIST with BPF_NOEXIST, ENOENT with BPF_EXIST (as bpftool showed on this kernel)', () => {
    const m = newMap(HASH);
    m.updateBytes(le32(1), le32(1), UpdateFlag.BPF_ANY);
    m.updateBytes(le32(2), le32(2), UpdateFlag.BPF_ANY);
    assert.equal(
      errnoOf(() => m.updateBytes(le32(3), le32(3), UpdateFlag.BPF_ANY)),
      Errno.E2BIG,
    );
    assert.equal(
      errnoOf(() => m.updateBytes(le32(2), le32(9), UpdateFlag.BPF_NOEXIST)),
      Errno.EEXIST,
    );
    assert.equal(
      errnoOf(() => m.updateBytes(le32(5), le32(9), UpdateFlag.BPF_EXIST)),
      Errno.ENOENT,
    );
    m.updateBytes(le32(2), le32(9), UpdateFlag.BPF_EXIST); // replacing works when full
    assert.equal(u32of(m.lookupBytes(le32(2))), 9);
    assert.equal(m.count, 2);
    assert.equal(
      errnoOf(() => m.deleteBytes(le32(7))),
      Errno.ENOENT,
    );
    assert.equal(
      errnoOf(() => m.updateBytes(le32(1), le32(1), 3)),
      Errno.EINVAL,
    );
  });
  it('get-next-key gives the first key for a missing key, and ENOENT after the last', () => {
    const m = newMap({ ...HASH, maxEntries: 8 });
    for (const k of [5, 6, 7]) m.updateBytes(le32(k), le32(k * 10), 0);
    const first = m.nextKey(null);
    assert.deepEqual(m.nextKey(le32(99)), first);
    const seen = [...m.entries()].map(([k, v]) => [u32of(k), u32of(v)]).sort((a, b) => a[0] - b[0]);
    assert.deepEqual(seen, [
      [5, 50],
      [6, 60],
      [7, 70],
    ]);
  });
  it('agrees with a JavaScript Map over 20,000 random operations', () => {
    const m = newMap({ type: MapType.BPF_MAP_TYPE_HASH, keySize: 6, valueSize: 12, maxEntries: 300, name: 'r' });
    const ref = new Map<string, string>();
    let seed = 1;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const bytes = (n: number, v: number) => Uint8Array.from({ length: n }, (_, i) => (v >> i % 3) * (i + 1));
    for (let i = 0; i < 20_000; i++) {
      const key = bytes(6, rand(500));
      const k = hex(key);
      const op = rand(4);
      if (op < 2) {
        const value = bytes(12, rand(1 << 20));
        const flags = rand(3);
        const expected =
          flags === 1 && ref.has(k)
            ? Errno.EEXIST
            : flags === 2 && !ref.has(k)
              ? Errno.ENOENT
              : !ref.has(k) && ref.size >= 300
                ? Errno.E2BIG
                : 0;
        assert.equal(
          errnoOf(() => m.updateBytes(key, value, flags)),
          expected,
          `update #${i}`,
        );
        if (expected === 0) ref.set(k, hex(value));
      } else if (op === 2) {
        assert.equal(
          errnoOf(() => m.deleteBytes(key)),
          ref.has(k) ? 0 : Errno.ENOENT,
          `delete #${i}`,
        );
        ref.delete(k);
      } else {
        const got = ref.has(k) ? hex(m.lookupBytes(key)) : errnoOf(() => m.lookupBytes(key));
        assert.equal(got, ref.get(k) ?? Errno.ENOENT, `lookup #${i}`);
      }
    }
    assert.equal(m.count, ref.size);
    const dumped = new Map([...m.entries()].map(([k, v]) => [hex(k), hex(v)]));
    assert.deepEqual(dumped, ref);
  });
  it('per-CPU hash: a program updates its own CPU slot, a new key starts at zero elsewhere', () => {
    const m = newMap({ ...HASH, type: MapType.BPF_MAP_TYPE_PERCPU_HASH }, 2);
    const key = m.scratchKeyFor(le32(1));
    const val = m.space.map(8, 3, 'v').start;
    m.space.view.setUint32(val, 77, true);
    assert.equal(m.update(key, val, 0, 1), 0);
    assert.deepEqual([...m.lookupBytes(le32(1))], [0, 0, 0, 0, 0, 0, 0, 0, 77, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(m.space.view.getUint32(m.lookup(key, 1), true), 77);
  });
});

describe('BPF_MAP_TYPE_LRU_HASH', () => {
  it('evicts the least recently used element instead of failing (5 inserts into 2 keep 4 and 5)', () => {
    const m = newMap({ ...HASH, type: MapType.BPF_MAP_TYPE_LRU_HASH });
    for (let k = 1; k <= 5; k++) m.updateBytes(le32(k), le32(k), 0);
    const keys = [...m.entries()].map(([k]) => u32of(k)).sort();
    assert.deepEqual(keys, [4, 5]);
    assert.equal(m.count, 2);
  });
  it('a looked-up element gets a second chance', () => {
    const m = newMap({ ...HASH, type: MapType.BPF_MAP_TYPE_LRU_HASH, maxEntries: 3 });
    for (let k = 1; k <= 3; k++) m.updateBytes(le32(k), le32(k), 0);
    m.lookup(m.scratchKeyFor(le32(1)), 0); // 1 is the oldest but now referenced
    m.updateBytes(le32(4), le32(4), 0);
    assert.deepEqual([...m.entries()].map(([k]) => u32of(k)).sort(), [1, 3, 4]);
  });
});

describe('BPF_MAP_TYPE_LRU_PERCPU_HASH and BPF_MAP_TYPE_HASH_OF_MAPS', () => {
  it('LRU per-CPU: evicts instead of E2BIG and keeps one slot per CPU', () => {
    const m = newMap({ ...HASH, type: MapType.BPF_MAP_TYPE_LRU_PERCPU_HASH }, 2);
    for (let k = 1; k <= 3; k++) m.updateBytes(le32(k), Uint8Array.from([k, 0, 0, 0, 0, 0, 0, 0, 10 + k, 0, 0, 0, 0, 0, 0, 0]), 0);
    assert.equal(m.count, 2);
    assert.deepEqual([...m.lookupBytes(le32(3))], [3, 0, 0, 0, 0, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(m.space.view.getUint32(m.lookup(m.scratchKeyFor(le32(3)), 1), true), 13);
  });
  it('a program looking up a hash of maps gets the inner map itself', () => {
    const m = newMap({
      ...HASH,
      type: MapType.BPF_MAP_TYPE_HASH_OF_MAPS,
      innerMap: { type: MapType.BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 },
    });
    m.updateBytes(le32(1), le32(0x12340), 0); // the door stores the inner map's descriptor address
    assert.equal(m.lookup(m.scratchKeyFor(le32(1)), 0), 0x12340);
  });
});
