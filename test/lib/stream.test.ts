import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kernel } from '../../kernel/kernel.js';
import { replay, type ReplayDone, type ReplayProgress } from '../../lib/replay.js';
import { openObject } from '../../lib/objectSpec.js';
import { REPO_ROOT } from '../support/paths.js';

const obj = (name: string) => join(REPO_ROOT, 'bpf', name);
const SAMPLE = join(REPO_ROOT, 'pcaps', 'sample.pcap');

/** pcapCount counts a little-endian pcap's records by walking their headers (incl_len at 8 of each 16-byte header). */
function pcapCount(path: string): number {
  const b = readFileSync(path);
  assert.equal(b.readUInt32LE(0), 0xa1b2c3d4);
  let n = 0;
  for (let o = 24; o + 16 <= b.length; n++) o += 16 + b.readUInt32LE(o + 8);
  return n;
}

/** event: struct event { __u32 len; __u32 ifindex; } as ringbuf.o submits it. */
const lenOf = (r: Uint8Array) => new DataView(r.buffer, r.byteOffset).getUint32(0, true);

describe('lib: ring buffer reader and replay', () => {
  it('yields the records ringbuf.o submitted, in order, each its packet length', async () => {
    using coll = openObject(obj('ringbuf.o')).load({ kernel: new Kernel() });
    using reader = coll.ringBuffer('events', { untilEmpty: true });
    for (const len of [60, 70, 80]) coll.programs.xdp_ringbuf.testRun({ data: new Uint8Array(len) });
    const got: number[] = [];
    for await (const r of reader) got.push(lenOf(r));
    assert.deepEqual(got, [60, 70, 80]);
    assert.equal(reader.available, 0);
  });

  it('while open, a full ring is drained into the reader, so no record is lost (closed: the ring fills)', async () => {
    // 4096 bytes of ring, 16 per record (8-byte header, 8 of event): 256 fit
    const kernel = new Kernel();
    using coll = openObject(obj('ringbuf.o')).load({ kernel });
    const prog = coll.programs.xdp_ringbuf;
    const reader = coll.ringBuffer('events', { untilEmpty: true });
    for (let i = 0; i < 300; i++) prog.testRun({ data: new Uint8Array(60 + (i % 7)) });
    const got: number[] = [];
    for await (const r of reader) got.push(lenOf(r));
    assert.equal(got.length, 300);
    assert.deepEqual(
      got.slice(0, 8),
      Array.from({ length: 8 }, (_, i) => 60 + (i % 7)),
    );
    reader.close();
    for (let i = 0; i < 300; i++) prog.testRun({ data: new Uint8Array(60) });
    using again = coll.ringBuffer('events', { untilEmpty: true });
    assert.equal(again.consume().length, 256);
  });

  it('an iteration without untilEmpty ends when its signal aborts', async () => {
    using coll = openObject(obj('ringbuf.o')).load();
    const ac = new AbortController();
    using reader = coll.ringBuffer('events', { signal: ac.signal, pollMs: 1 });
    coll.programs.xdp_ringbuf.testRun({ data: new Uint8Array(64) });
    const got: number[] = [];
    for await (const r of reader) {
      got.push(lenOf(r));
      ac.abort();
    }
    assert.deepEqual(got, [64]);
  });

  it('a map that is not a ring buffer is refused', () => {
    using coll = openObject(obj('xdp_stats.o')).load();
    assert.throws(() => coll.ringBuffer('sampled'), /ring buffer sampled: EINVAL: not a BPF_MAP_TYPE_RINGBUF map/);
  });

  it('replay(captures, options) yields progress and then the summary of every packet of the capture', async function () {
    this.timeout(60_000);
    const items: (ReplayProgress | ReplayDone)[] = [];
    const run = replay([SAMPLE], { obj: obj('xdp_stats.o'), workers: 1 });
    for await (const it of run) items.push(it);
    const last = items.at(-1)!;
    assert.equal(last.kind, 'summary');
    const n = pcapCount(SAMPLE);
    assert.equal((last as ReplayDone).summary.packets, n);
    assert.equal((await run.summary).packets, n);
    for (const p of items.slice(0, -1)) {
      assert.equal(p.kind, 'progress');
      assert.ok((p as ReplayProgress).packets <= n);
    }
    // the older form still answers with the summary alone
    const s = await replay({ captures: [SAMPLE], obj: obj('xdp_stats.o'), workers: 1 });
    assert.equal(s.packets, n);
  });
});
