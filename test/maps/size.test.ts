import assert from 'node:assert/strict';
import { createMap } from '../../maps/factory.js';
import { MapType } from '../../uapi/mapType.js';
import { AddressSpace } from '../../vm/memory.js';

describe('map sizes', () => {
  it('a 1M-entry hash map with 8-byte keys and values fits in 64 MiB', () => {
    const space = new AddressSpace({ initialBytes: 1 << 20, maximumBytes: 256 * 1024 * 1024 });
    const m = createMap(space, { type: MapType.BPF_MAP_TYPE_HASH, keySize: 8, valueSize: 8, maxEntries: 1 << 20, name: 'big' }, 2);
    assert.ok(m.bytes < 64 * 1024 * 1024, `${m.bytes} bytes`);
    // the region really exists: its last byte is addressable
    assert.ok(space.memory.buffer.byteLength >= m.storage + m.bytes - 64);
  });
});
