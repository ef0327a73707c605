import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { CLI } from './cliSupport.js';

/**
 * A short capture runs its emulated CPUs in turns on the main thread (InlinePool) instead of
 * starting worker threads. The second implementation is the worker threads themselves
 * (BPFBOX_INLINE_BYTES=0): with --deterministic, the same capture, program and number of
 * CPUs give the same verdicts, per-CPU counts, maps (hash maps compared as sets: their order
 * is the order of insertion, which two CPUs running at once interleave) and written capture.
 */
describe('replay of a short capture on the main thread: the same results as on worker threads', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bpfbox-inline-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const sample = join(REPO_ROOT, 'pcaps', 'sample.pcap');
  interface Summary {
    inline?: boolean;
    packets: number;
    maps: Record<string, unknown>;
    [k: string]: unknown;
  }
  const run = (threads: boolean, args: string[], input?: Buffer) => {
    const r = spawnSync(process.execPath, [CLI, 'replay', ...args, '--deterministic', '--json'], {
      encoding: 'utf8',
      input,
      env: { ...process.env, ...(threads ? { BPFBOX_INLINE_BYTES: '0' } : {}) },
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Summary;
  };
  /** comparable: the summary less times and the inline mark, each map's elements in key order. */
  const comparable = (s: Summary) => {
    const { seconds: _s, mpps: _m, busy_seconds: _b, max_rss_mb: _r, inline: _i, ...rest } = s;
    const key = (e: unknown) => JSON.stringify((e as { key: unknown }).key);
    const maps = Object.fromEntries(
      Object.entries(s.maps).map(([n, v]) => [n, Array.isArray(v) ? [...v].sort((a, b) => key(a).localeCompare(key(b))) : v]),
    );
    return { ...rest, maps };
  };

  const cases: { name: string; args: string[]; out?: boolean }[] = [
    { name: 'xdp_stats (the batched XDP path, per-CPU and hash maps)', args: ['--obj', 'bpf/xdp_stats.o'] },
    { name: 'tc_nat (tc, packets rewritten, written out)', args: ['--obj', 'bpf/tc_nat.o'], out: true },
    { name: 'sock_proto (a socket filter)', args: ['--obj', 'bpf/sock_proto.o'] },
  ];
  for (const c of cases)
    for (const workers of ['1', '2'])
      it(`${c.name}, ${workers} CPU${workers === '1' ? '' : 's'}`, () => {
        const outs = [join(dir, `${workers}-inline.pcap`), join(dir, `${workers}-threads.pcap`)];
        const args = (i: number) => [sample, ...c.args.map((a) => (a.endsWith('.o') ? join(REPO_ROOT, a) : a)), '--workers', workers];
        const inline = run(false, [...args(0), ...(c.out ? ['--out', outs[0]] : [])]);
        const threads = run(true, [...args(1), ...(c.out ? ['--out', outs[1]] : [])]);
        assert.equal(inline.inline, true, 'a 576 KB capture runs inline');
        assert.equal(threads.inline, undefined, 'BPFBOX_INLINE_BYTES=0: worker threads');
        assert.ok(inline.packets > 0);
        assert.deepEqual(comparable(inline), comparable(threads));
        if (c.out) assert.ok(readFileSync(outs[0]).equals(readFileSync(outs[1])), 'the written captures are the same bytes');
      });

  it('a capture from standard input (a stream: no size) runs on worker threads', () => {
    const s = run(false, ['-', '--obj', join(REPO_ROOT, 'bpf', 'xdp_stats.o'), '--workers', '1'], readFileSync(sample));
    assert.equal(s.inline, undefined);
    assert.equal(s.packets, 1000);
  });
});
