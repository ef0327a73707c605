import assert from 'node:assert/strict';
import { ArrayMap } from '../../maps/array.js';
import { Errno } from '../../uapi/errno.js';
import { MapFlag, MapType, UpdateFlag } from '../../uapi/mapType.js';
import { R0, R1, R2, exit, lddw, ldx, link, mov, st } from '../../vm/dsl.js';
import { interpreter } from '../../vm/interpreter/interpreter.js';
import { createMachine } from '../../vm/machine.js';
import { checkProgram } from '../../vm/program.js';
import { errnoOf, le32, le64, newMap } from './support.js';

describe('BPF_MAP_TYPE_ARRAY', () => {
  const spec = { type: MapType.BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, name: 'arr' };
  it('is preallocated and zeroed', () => {
    const m = newMap(spec);
    assert.deepEqual([...m.lookupBytes(le32(3))], [0, 0, 0, 0, 0, 0, 0, 0]);
  });
  it('updates, and answers out-of-range and flags as the kernel does', () => {
    const m = newMap(spec);
    m.updateBytes(le32(1), le64(0x1122n), UpdateFlag.BPF_ANY);
    assert.deepEqual([...m.lookupBytes(le32(1))], [0x22, 0x11, 0, 0, 0, 0, 0, 0]);
    assert.equal(
      errnoOf(() => m.updateBytes(le32(4), le64(1n), 0)),
      Errno.E2BIG,
    );
    assert.equal(
      errnoOf(() => m.updateBytes(le32(1), le64(1n), UpdateFlag.BPF_NOEXIST)),
      Errno.EEXIST,
    );
    assert.equal(
      errnoOf(() => m.updateBytes(le32(1), le64(1n), 8)),
      Errno.EINVAL,
    );
    assert.equal(
      errnoOf(() => m.lookupBytes(le32(9))),
      Errno.ENOENT,
    );
    assert.equal(
      errnoOf(() => m.deleteBytes(le32(1))),
      Errno.EINVAL,
    );
    assert.equal(
      errnoOf(() => m.updateBytes(le32(1), new Uint8Array(3), 0)),
      Errno.EINVAL,
    );
  });
  it('get-next-key: first for null or out of range, ENOENT after the last', () => {
    const m = newMap(spec);
    assert.deepEqual([...m.nextKey(null)], [0, 0, 0, 0]);
    assert.deepEqual([...m.nextKey(le32(1))], [2, 0, 0, 0]);
    assert.deepEqual([...m.nextKey(le32(9))], [0, 0, 0, 0]);
    assert.equal(
      errnoOf(() => m.nextKey(le32(3))),
      Errno.ENOENT,
    );
    assert.equal([...m.entries()].length, 4);
  });
  it('per-CPU: userspace sees round_up(value_size, 8) per CPU, programs their own slot', () => {
    const m = newMap({ ...spec, type: MapType.BPF_MAP_TYPE_PERCPU_ARRAY, valueSize: 4 }, 3) as ArrayMap;
    assert.equal(m.userValueSize, 24);
    m.updateBytes(le32(2), Uint8Array.from([1, 0, 0, 0, 9, 9, 9, 9, 2, 0, 0, 0, 9, 9, 9, 9, 3, 0, 0, 0, 9, 9, 9, 9]), 0);
    const key = m.scratchKeyFor(le32(2));
    for (const cpu of [0, 1, 2]) assert.equal(m.space.view.getUint32(m.lookup(key, cpu), true), cpu + 1);
  });
  it('BPF_F_RDONLY_PROG: a program may read values but not write them', () => {
    const m = newMap({ ...spec, flags: MapFlag.BPF_F_RDONLY_PROG }) as ArrayMap;
    const addr = m.valueAddr(0, 0);
    const machine = createMachine({ memory: m.space });
    const write = link([lddw(R1, addr), st('u64', R1, 0, 7), mov(R0, 0), exit()]);
    assert.throws(() => interpreter.prepare(checkProgram(write), machine).run(), /insn 2: invalid write of 8 bytes/);
    m.updateBytes(le32(0), le64(5n), 0); // userspace still can
    const read = link([lddw(R2, addr), ldx('u64', R0, R2, 0), exit()]);
    assert.equal(interpreter.prepare(checkProgram(read), machine).run(), 5n);
  });
});
