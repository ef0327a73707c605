import { workerData } from 'node:worker_threads';
import { attachMap } from '../../maps/factory.js';
import { AddressSpace, type AddressSpaceSnapshot } from '../../vm/memory.js';

// Each worker inserts its own keys, deletes half of them again, and bumps one shared counter
// (key 0) with atomic adds through the value address a lookup returns, as a program would.
const {
  space: snap,
  desc,
  cpu,
  n,
  scratch,
} = workerData as { space: AddressSpaceSnapshot; desc: number; cpu: number; n: number; scratch: number };
const space = new AddressSpace(snap);
const map = attachMap(space, desc);
const dv = space.view;
const key = scratch;
const val = scratch + 8;
for (let i = 1; i <= n; i++) {
  dv.setUint32(key, cpu * 1_000_000 + i, true);
  dv.setUint32(val, i, true);
  if (map.update(key, val, 0, cpu) !== 0) throw new Error(`update ${i} failed`);
  dv.setUint32(key, 0, true);
  const counter = map.lookup(key, cpu);
  Atomics.add(space.i32, counter >> 2, 1);
  if (i % 2 === 0) {
    dv.setUint32(key, cpu * 1_000_000 + i, true);
    if (map.delete(key) !== 0) throw new Error(`delete ${i} failed`);
  }
}
