import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { bpfbox, startServeConfig } from './cliSupport.js';
import { type Sample, parseExposition } from '../support/exposition.js';

const require = createRequire(import.meta.url);
const SAMPLE = join(REPO_ROOT, 'pcaps', 'sample.pcap');

const sum = (xs: Sample[], name: string, where: Record<string, string> = {}) =>
  xs.filter((x) => x.name === name && Object.entries(where).every(([k, v]) => x.labels[k] === v)).reduce((a, x) => a + x.value, 0);

function frames(): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const p = require('pcap-parser').parse(SAMPLE);
    p.on('packet', (x: { data: Buffer }) => out.push(Buffer.from(x.data)));
    p.on('end', () => resolve(out));
    p.on('error', reject);
  });
}

const CONFIG = (extra = '') => `
workers: 2
programs:
  - name: stats
    obj: ${join(REPO_ROOT, 'bpf', 'xdp_stats.o')}
    set: { sample_every: 4 }
    pinmaps: /sys/fs/bpf/t
sources:
  - { program: stats, captures: [${SAMPLE}], mode: once }
exporter:
  counters:
${extra}
    - name: proto_total
      help: by protocol
      map: proto_stats
      fields: [packets, bytes]
      labels:
        - { name: ethertype, size: 2 }
        - { name: proto, size: 1 }
        - { name: pad, size: 1, padding: true }
    - name: sampled_total
      help: sampled
      map: sampled
      labels: [{ name: i, size: 4 }]
  histograms:
    - name: frame_bytes
      help: sizes
      map: size_hist
      bucket_type: exp2
      bucket_min: 0
      bucket_max: 15
      labels: [{ name: bucket, size: 4 }]
`;

describe('bpfbox serve --config: metrics over HTTP', function () {
  this.timeout(60_000);
  let dir: string;
  let state: string;
  let serve: Awaited<ReturnType<typeof startServeConfig>> | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-serve-'));
    state = mkdtempSync(join(tmpdir(), 'bpfbox-serve-state-'));
  });
  after(async () => {
    if (serve && serve.p.exitCode === null) {
      const exited = new Promise((ok) => serve!.p.once('exit', ok));
      serve.p.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  it('scrapes the pipeline series and the map series, which agree with the capture', async () => {
    const config = join(dir, 'c.yaml');
    writeFileSync(config, CONFIG());
    serve = await startServeConfig(config, state);
    const fs = await frames();
    let xs: Sample[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await fetch(serve.url);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      xs = parseExposition(await r.text());
      if (sum(xs, 'bpfbox_packets_total') === fs.length) break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    assert.equal(sum(xs, 'bpfbox_packets_total'), fs.length);
    assert.equal(sum(xs, 'bpfbox_packets_total', { verdict: 'XDP_PASS' }), fs.length);
    assert.deepEqual(new Set(xs.filter((x) => x.name === 'bpfbox_packets_total').map((x) => x.labels.cpu)), new Set(['0', '1']));
    assert.equal(
      sum(xs, 'bpfbox_bytes_total'),
      fs.reduce((a, f) => a + f.length, 0),
    );
    assert.ok(sum(xs, 'bpfbox_program_run_seconds_count') > 0);
    // per (ethertype, protocol): packets and bytes, counted here from the capture
    const want = new Map<string, [number, number]>();
    for (const f of fs) {
      const type = f.readUInt16BE(12);
      const proto = type === 0x0800 ? f[23] : type === 0x86dd ? f[20] : 0;
      const k = `${type}/${proto}`;
      const [p, b] = want.get(k) ?? [0, 0];
      want.set(k, [p + 1, b + f.length]);
    }
    const got = new Map<string, [number, number]>();
    for (const x of xs.filter((s) => s.name === 'proto_total')) {
      const k = `${x.labels.ethertype}/${x.labels.proto}`;
      const [p, b] = got.get(k) ?? [0, 0];
      got.set(k, x.labels.field === 'packets' ? [p + x.value, b] : [p, b + x.value]);
    }
    assert.deepEqual(got, want);
    // the histogram: cumulative log2 buckets (2^i <= len < 2^(i+1) counts in le=2^i and above)
    const bucketOf = (n: number) => 31 - Math.clz32(n);
    for (let i = 0; i <= 15; i++) {
      const le = String(2 ** i);
      assert.equal(sum(xs, 'frame_bytes_bucket', { le }), fs.filter((f) => bucketOf(f.length) <= i).length, `le=${le}`);
    }
    assert.equal(sum(xs, 'frame_bytes_bucket', { le: '+Inf' }), fs.length);
    assert.equal(sum(xs, 'frame_bytes_count'), fs.length);
    // another process reads the pinned map live through the service's control socket
    const dump = bpfbox(state, 'map', 'dump', 'pinned', '/sys/fs/bpf/t/sampled', '-j');
    assert.equal(dump.code, 0, dump.err);
    assert.equal(JSON.parse(dump.out)[0].formatted.value, sum(xs, 'sampled_total'));
    assert.ok(sum(xs, 'sampled_total') > 0);
    const notFound = await fetch(serve.url.replace('/metrics', '/other'));
    assert.equal(notFound.status, 404);
  });

  it('a config that does not fit its maps is refused at start, naming the entry, the map and the field', () => {
    const bad = (extra: string, re: RegExp) => {
      const config = join(dir, 'bad.yaml');
      writeFileSync(config, CONFIG(extra).replace('pinmaps: /sys/fs/bpf/t', 'pinmaps: /sys/fs/bpf/u'));
      const r = bpfbox(state, 'serve', '--config', config, '--metrics-addr', '127.0.0.1:0');
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, re);
    };
    bad(
      '    - { name: x, help: x, map: proto_stats, labels: [{ name: a, size: 3 }] }',
      /exporter\.counters\[0\] \(x\): labels cover 3 bytes; the map proto_stats's key has 4/,
    );
    bad(
      '    - { name: x, help: x, map: proto_stats, fields: [packts], labels: [{ name: a, size: 4 }] }',
      /exporter\.counters\[0\] \(x\): field packts: struct has no such field \(it has packets, bytes\)/,
    );
    bad('    - { name: x, help: x, map: nosuch, labels: [] }', /exporter\.counters\[0\] \(x\): program stats has no map nosuch/);
    bad(
      '    - { name: x, help: x, map: last_seen, per_cpu: label, labels: [{ name: a, size: 4 }] }',
      /per_cpu: label, but map last_seen is not a per-CPU map/,
    );
  });
});
