import assert from 'node:assert/strict';
import { ArrayMap } from '../../maps/array.js';
import { resolveMapRefs } from '../../maps/programSide.js';
import { MapType } from '../../uapi/mapType.js';
import { le32, newMap, u32of } from './support.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const set = (m: ArrayMap) => Array.from(m.setEntries(), ([k, v]) => [u32of(k), hex(v)]);

/**
 * ArrayMap.setEntries (what a pin snapshot and a large array's replay dump keep): only the
 * entries whose value is not zero, in key order, and nothing read while nothing may have
 * written the array. Expected lists are written out by hand.
 */
describe('BPF_MAP_TYPE_ARRAY: setEntries and written', () => {
  // value_size 12: a 16-byte stride, so a set last word must not be taken for the next entry
  const spec = { type: MapType.BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 12, maxEntries: 64, name: 'arr' };

  it('a new array is not written and has no set entries', () => {
    const m = newMap(spec) as ArrayMap;
    assert.equal(m.written, false);
    assert.deepEqual(set(m), []);
  });

  it('lists the entries updated to non-zero values, in key order, and not one updated to zero', () => {
    const m = newMap(spec) as ArrayMap;
    m.updateBytes(le32(40), Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]), 0);
    m.updateBytes(le32(3), Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 0);
    m.updateBytes(le32(41), new Uint8Array(12), 0);
    assert.equal(m.written, true);
    assert.deepEqual(set(m), [
      [3, '010000000000000000000000'],
      [40, '000000000000000000000007'],
    ]);
  });

  it('a program that refers to the array marks it written; what it stores directly is listed', () => {
    const m = newMap(spec) as ArrayMap;
    resolveMapRefs({ maps: [{ map: m }], mapFds: [5] });
    assert.equal(m.written, true);
    // as a program's store through a looked-up value pointer: straight into the storage
    m.space.u8[m.valueAddr(63, 0) + 11] = 0x5a;
    assert.deepEqual(set(m), [[63, '00000000000000000000005a']]);
  });

  it('per-CPU: an entry set on one CPU only is listed with every CPU slot', () => {
    const m = newMap({ ...spec, type: MapType.BPF_MAP_TYPE_PERCPU_ARRAY, valueSize: 4 }, 2) as ArrayMap;
    m.markWritten();
    m.space.u8[m.valueAddr(9, 1)] = 2;
    m.space.u8[m.valueAddr(2, 0)] = 1;
    // userspace sees round_up(4, 8) = 8 bytes per CPU, CPU 0 first
    assert.deepEqual(set(m), [
      [2, '0100000000000000' + '0000000000000000'],
      [9, '0000000000000000' + '0200000000000000'],
    ]);
  });
});
