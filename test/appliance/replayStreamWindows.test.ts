import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ReplayOptions, type ReplaySummary, replay } from '../../appliance/datapath/replay.js';
import { StreamAborted, streamed, waitSeq } from '../../appliance/datapath/sources/windowRing.js';
import { PcapReader } from '../../pcaps/pcapReader.js';
import { PcapWriter } from '../../pcaps/pcapWriter.js';
import { synthPackets } from '../../pcaps/synth.js';
import { REPO_ROOT } from '../support/paths.js';

const obj = (name: string) => join(REPO_ROOT, 'bpf', `${name}.o`);

/** An IPv4/UDP frame of `len` bytes from source 10.1.0.`seed`. */
function udp(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  b.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00], 0);
  const l3 = Math.min(len - 14, 0xffff);
  b.set([0x45, 0, l3 >> 8, l3 & 0xff, 0, 0, 0, 0, 64, 17, 0, 0, 10, 1, 0, seed, 192, 168, 0, 1, 0x30, 0x39, 0, 53], 14);
  return b;
}

const synth = (n: number, seed: number) => Array.from(synthPackets({ packets: n, seed }), (p) => p.data.slice());

function writePcap(path: string, packets: readonly Uint8Array[], nanosecond: boolean): string {
  const w = new PcapWriter(path, { nanosecond });
  packets.forEach((data, i) => w.write({ data, tsSec: 1_767_225_600 + i, tsNsec: nanosecond ? i * 7 : i * 1000 }));
  w.close();
  return path;
}

/** A record header that claims 100 bytes, followed by 10: the file is cut mid-record. */
function cut(path: string): string {
  const h = Buffer.alloc(26);
  h.writeUInt32LE(1_767_300_000, 0);
  h.writeUInt32LE(100, 8);
  h.writeUInt32LE(100, 12);
  appendFileSync(path, h);
  return path;
}

/** runs `f` with the environment variables `env` set (undefined: unset), then puts them back. */
async function withEnv<T>(env: Record<string, string | undefined>, f: () => Promise<T>): Promise<T> {
  const old = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const set = (e: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(e))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  };
  set(env);
  try {
    return await f();
  } finally {
    set(old);
  }
}

/** perCpu: the per-CPU maps of a summary (each CPU's values): what two runs with the same flows on the same CPUs must agree on. */
function perCpu(maps: ReplaySummary['maps']): unknown {
  const out: Record<string, unknown> = {};
  for (const [name, entries] of Object.entries(maps)) {
    const list = entries as { key: unknown; values?: unknown }[];
    // in key order: a per-CPU hash's order is which CPU inserted first (a race)
    if (list.some((e) => e.values !== undefined))
      out[name] = [...list].sort((x, y) => (JSON.stringify(x.key) < JSON.stringify(y.key) ? -1 : 1));
  }
  return out;
}

describe('replay: the workers read their windows of a plain pcap themselves (sources/windowRing.ts)', function () {
  this.timeout(600_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bpfbox-stream3-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('waitSeq waits a bounded time, and stops when the pass is aborted', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(16));
    i32[1] = 3;
    waitSeq(i32, 1, 3, 0, 10);
    assert.throws(() => waitSeq(i32, 1, 4, 0, 60, 'window 9'), /internal: streamed replay: waited 60 ms for window 9 \(seq 4, have 3\)/);
    i32[0] = 1;
    assert.throws(() => waitSeq(i32, 1, 4, 0, 60_000), StreamAborted);
  });

  // xdp programs (batched, in place), one that writes packets, an skb program (runts not run)
  const CASES: readonly [string, string?][] = [
    ['xdp_simple'],
    ['xdp_stats'],
    ['xdp_verdicts'],
    ['lpm_firewall', 'xdp_firewall'],
    ['tc_proto'],
  ];
  for (const [name, prog] of CASES)
    it(`${name}: 2 workers reading windows give what the main thread's reading gives (verdicts, bytes, maps), windows straddled by records`, async () => {
      // long records (run in a scratch slot; one longer than 65535: not run), runts, a cut last record, microseconds and nanoseconds
      const a = writePcap(
        join(dir, `${name}-a.pcap`),
        [...synth(1500, 7), udp(6000, 3), udp(20_000, 3), new Uint8Array(10), ...synth(200, 5)],
        false,
      );
      const b = cut(writePcap(join(dir, `${name}-b.pcap`), [...synth(500, 8), udp(70_000, 4), ...synth(500, 9)], true));
      const d = writePcap(join(dir, `${name}-d.pcap`), synth(700, 11), true);
      // worker threads (inline, for a capture this short, the CPUs would take turns on the main thread)
      const base: ReplayOptions = { captures: [a, d, b, d], obj: obj(name), prog, deterministic: true, inline: false };
      const ran = async (o: Partial<ReplayOptions>, env: Record<string, string | undefined>) => {
        const before = streamed.windows;
        const s = await withEnv(env, () => replay({ ...base, ...o }));
        const { verdicts, verdict_names, bytes, per_cpu, errors, skipped, maps, packets, warnings } = s;
        return {
          got: { verdicts, verdict_names, bytes, errors, skipped, packets, warnings },
          per_cpu,
          maps,
          windows: streamed.windows - before,
        };
      };
      // the reference: the interpreter, one packet at a time, the main thread reading (1 worker, and 2 as today)
      const one = await ran({ workers: 1, engine: 'interpreter' }, { BPFBOX_STREAM: 'off' });
      assert.equal(one.got.packets, 1500 + 3 + 200 + 1000 + 1400 - (name === 'tc_proto' ? 1 : 0));
      assert.equal(one.got.skipped, name === 'tc_proto' ? 2 : 1);
      assert.ok(one.got.warnings.some((l) => /cut off/.test(l)));
      assert.equal(one.windows, 0);
      const two = await ran({ workers: 2, engine: 'interpreter' }, { BPFBOX_STREAM: 'off' });
      assert.equal(two.windows, 0);
      for (const [engine, window] of [
        ['jit', '1000'],
        ['jit', '97'],
        ['jit', undefined],
        ['interpreter', '1000'],
      ] as const) {
        const got = await ran({ workers: 2, engine }, { BPFBOX_STREAM: undefined, BPFBOX_STREAM_WINDOW: window });
        const what = `${name} ${engine} window ${window ?? 'default'}`;
        // the workers read it: every window of every file (at 97 bytes, records straddle several)
        const size = [a, d, b, d].reduce((t, f) => t + readFileSync(f).length - 24, 0);
        if (window) assert.ok(got.windows >= Math.floor(size / Number(window)), `${what}: ${got.windows} windows`);
        else assert.ok(got.windows >= 4, `${what}: ${got.windows} windows`);
        assert.deepEqual(got.got, one.got, what);
        // the same packets on the same CPUs, in the same order: per-CPU counts and maps as today's 2 workers
        assert.deepEqual(got.per_cpu, two.per_cpu, what);
        assert.ok(Math.min(...got.per_cpu) > 0, `${what}: ${got.per_cpu}`);
        assert.deepEqual(perCpu(got.maps), perCpu(two.maps), what);
        // maps both CPUs write without atomics may race (as in the kernel): their keys at least
        for (const m of Object.keys(one.maps))
          assert.deepEqual(
            new Set((got.maps[m] as { key: unknown }[]).map((e) => JSON.stringify(e.key))),
            new Set((one.maps[m] as { key: unknown }[]).map((e) => JSON.stringify(e.key))),
            `${what}: map ${m}`,
          );
      }
      if (name === 'xdp_simple') {
        // --out: the main thread reads (packets come back in capture order), the same bytes on 1 and 2 workers
        const out = (w: number) => join(dir, `out-${w}.pcap`);
        await replay({ ...base, workers: 1, out: out(1) });
        const before = streamed.windows;
        await replay({ ...base, workers: 2, out: out(2) });
        assert.equal(streamed.windows, before);
        assert.ok(readFileSync(out(2)).equals(readFileSync(out(1))));
        const r = new PcapReader(out(2));
        let n = 0;
        while (r.next()) n++;
        r.close();
        assert.equal(n, one.got.packets + one.got.skipped);
      }
    });

  it('a corrupt record header mid-file: the same error as when the main thread reads', async () => {
    const path = writePcap(join(dir, 'corrupt.pcap'), [...synth(800, 1), udp(300, 2), ...synth(800, 3)], false);
    // record 800's caplen (300) made larger than the file's snap length
    const buf = readFileSync(path);
    let at = 24;
    for (let i = 0; i < 800; i++) at += 16 + buf.readUInt32LE(at + 8);
    buf.writeUInt32LE(300_000, at + 8);
    const bad = join(dir, 'corrupt2.pcap');
    appendFileSync(bad, buf);
    const err = async (env: Record<string, string | undefined>) => {
      const before = streamed.windows;
      const e = await withEnv(env, () => replay({ captures: [bad], obj: obj('xdp_simple'), workers: 2, inline: false })).then(
        () => assert.fail('no error'),
        (x: Error) => x,
      );
      return { message: e.message, windows: streamed.windows - before };
    };
    const main = await err({ BPFBOX_STREAM: 'off' });
    assert.match(main.message, new RegExp(`${bad}: offset ${at}: record 800: captured length 300000 is larger than`));
    assert.equal(main.windows, 0);
    const workers = await err({ BPFBOX_STREAM_WINDOW: '4096' });
    assert.equal(workers.message, main.message);
    assert.ok(workers.windows > 0, `${workers.windows} windows read by the workers before the corrupt one`);
  });
});
