import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { MapType } from '../../uapi/mapType.js';
import { Perm } from '../../vm/memory.js';
import { le32, newMap, u32of } from './support.js';

describe('maps shared by worker threads', function () {
  this.timeout(60_000);
  for (const type of [MapType.BPF_MAP_TYPE_HASH, MapType.BPF_MAP_TYPE_LRU_HASH]) {
    it(`two threads updating one ${type === MapType.BPF_MAP_TYPE_HASH ? 'hash' : 'LRU hash'} map lose nothing`, async () => {
      const n = 20_000;
      const m = newMap({ type, keySize: 4, valueSize: 4, maxEntries: 2 * n + 10, name: 'shared' });
      m.updateBytes(le32(0), le32(0), 0);
      const scratch = [m.space.map(16, Perm.RW, 's0').start, m.space.map(16, Perm.RW, 's1').start];
      const snap = m.space.snapshot();
      const run = (cpu: number) =>
        new Promise((ok, fail) =>
          new Worker(new URL('./concurrentWorker.js', import.meta.url), {
            workerData: { space: snap, desc: m.desc, cpu, n, scratch: scratch[cpu] },
          })
            .on('exit', ok)
            .on('error', fail),
        );
      await Promise.all([run(0), run(1)]);
      m.space.refresh();
      assert.equal(u32of(m.lookupBytes(le32(0))), 2 * n, 'every atomic add on the shared counter landed');
      const keys = [...m.entries()]
        .map(([k]) => u32of(k))
        .filter((k) => k !== 0)
        .sort((a, b) => a - b);
      const expected = [0, 1].flatMap((cpu) => Array.from({ length: n / 2 }, (_, i) => cpu * 1_000_000 + 2 * i + 1));
      assert.deepEqual(keys, expected);
      assert.equal(m.count, n + 1);
    });
  }
});
