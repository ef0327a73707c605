import { hexMaps } from '../support/hexMaps.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { CLI, bpfbox, tempState } from './cliSupport.js';

const require = createRequire(import.meta.url);
const SAMPLE = join(REPO_ROOT, 'pcaps', 'sample.pcap');
const STATS = join(REPO_ROOT, 'bpf', 'xdp_stats.o');

/** readWithPcapParser: the sample's frames through the pcap-parser package (an independent reader). */
function readWithPcapParser(path: string): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const p = require('pcap-parser').parse(path);
    p.on('packet', (x: { data: Buffer }) => out.push(Buffer.from(x.data)));
    p.on('end', () => resolve(out));
    p.on('error', reject);
  });
}

describe('bpfbox replay (CLI)', function () {
  this.timeout(60_000);
  let dir: string;
  const state = tempState();
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bpfbox-replaycli-'))));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  it('the sample: --json has the summary, and xdp_stats counted every protocol as the capture holds them', async () => {
    const r = bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--workers', '2', '--set', 'drop_proto=6', '--json');
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(r.out);
    assert.deepEqual(
      Object.keys(s)
        .filter((k) => ['packets', 'verdicts', 'verdict_names', 'maps', 'seconds'].includes(k))
        .sort(),
      ['maps', 'packets', 'seconds', 'verdict_names', 'verdicts'],
    );
    const frames = await readWithPcapParser(SAMPLE);
    const want = new Map<string, [bigint, bigint]>();
    let tcp = 0;
    for (const f of frames) {
      const type = f.readUInt16BE(12);
      const proto = type === 0x0800 ? f[23] : type === 0x86dd ? f[20] : 0;
      if (proto === 6) tcp++;
      const key = Buffer.from([type & 0xff, type >> 8, proto, 0]).toString('hex');
      const [p, b] = want.get(key) ?? [0n, 0n];
      want.set(key, [p + 1n, b + BigInt(f.length)]);
    }
    const got = new Map(
      Object.entries(hexMaps(s.maps).proto_stats as Record<string, string[]>).map(([k, cpus]) => {
        const sum = cpus
          .map((v) => Buffer.from(v, 'hex'))
          .reduce((a, b) => [a[0] + b.readBigUInt64LE(0), a[1] + b.readBigUInt64LE(8)], [0n, 0n]);
        return [k, sum as [bigint, bigint]];
      }),
    );
    assert.deepEqual(got, want);
    assert.equal(s.packets, frames.length);
    assert.deepEqual(s.verdict_names, { XDP_PASS: frames.length - tcp, XDP_DROP: tcp });
    assert.deepEqual(s.verdicts, { 1: tcp, 2: frames.length - tcp });
    assert.equal(s.per_cpu.length, 2);
  });

  it('the text summary: return values only where they add to the verdicts, bytes kept for a socket filter, array keys by index', () => {
    // xdp_verdicts returns 0..15: values 5..15 are all XDP_ABORTED, so the values say more
    const v = bpfbox(state, 'replay', SAMPLE, '--obj', join(REPO_ROOT, 'bpf', 'xdp_verdicts.o'), '--workers', '1', '--json');
    const sv = JSON.parse(v.out) as { verdicts: Record<string, number> };
    const t = bpfbox(state, 'replay', SAMPLE, '--obj', join(REPO_ROOT, 'bpf', 'xdp_verdicts.o'), '--workers', '1');
    const line = /^return values: (.*)$/m.exec(t.out)?.[1] ?? '';
    const listed = Object.fromEntries(line.split(', ').map((p) => p.split(': ').map(Number)));
    assert.deepEqual(listed, Object.fromEntries(Object.entries(sv.verdicts).map(([k, n]) => [Number(k), n])));
    // a socket filter that keeps every packet whole: bytes kept, no list of lengths
    const sock = bpfbox(state, 'replay', SAMPLE, '--obj', join(REPO_ROOT, 'bpf', 'sock_proto.o'), '--workers', '1');
    assert.match(sock.out, /^socket program \w+: 1000 packets, \d+ bytes kept in /);
    assert.doesNotMatch(sock.out, /return values/);
    // size_hist, a 16-slot array that BTF types (__u32 keys): its first 8 keys are indexes 0..7 in order, the rest named
    const st = bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--workers', '1');
    const hist = /map size_hist: 16 entries \(([^)]*)\)\n((?:  key .*\n){8})/.exec(st.out);
    assert.ok(hist, st.out);
    assert.match(hist[1], /keys 8\.\.15 left out/);
    assert.deepEqual(
      [...hist[2].matchAll(/key (\w+)/g)].map((m) => m[1]),
      ['0', '1', '2', '3', '4', '5', '6', '7'],
    );
    // a map BTF does not describe (bpfbox gives .rodata no types): key and value stay hex bytes
    assert.match(st.out, /map xdp_stat\.rodata: 1 entry\n  key 00000000  value 4000000000\n/);
  });

  it('the text summary names the program, the verdicts and the CPUs', () => {
    const r = bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--workers', '1');
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^xdp program xdp_stats: 1000 packets, \d+ bytes in [\d.]+ s \(the whole command; the pass [\d.]+ s\)\ndata path: [\d.]+ ms of program runs, [\d.]+ us a packet \(a capture this short measures warm-up[^)]*\)\nverdicts: XDP_PASS 1000\n/,
    );
    // XDP_PASS is 2: the return values would repeat the verdicts
    assert.doesNotMatch(r.out, /return values/);
    // 576 KB: the one CPU ran on the main thread, and the line says so
    assert.match(r.out, /per CPU: cpu0 1000 \(a short capture: the CPUs ran in turns on the main thread\)\n/);
  });

  it('a capture cut off mid-record: the complete records run, and a warning names the offset', () => {
    const cut = join(dir, 'cut.pcap');
    writeFileSync(cut, readFileSync(SAMPLE));
    truncateSync(cut, readFileSync(SAMPLE).length - 3);
    const r = bpfbox(state, 'replay', cut, '--obj', STATS, '--workers', '1');
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /warning: .*cut\.pcap: offset \d+: record 999 is cut off/);
    assert.match(r.out, /999 packets/);
  });

  it('bad input: a corrupt record, an unsupported link type, a missing program, each named', () => {
    const bad = Buffer.from(readFileSync(SAMPLE));
    bad.writeUInt32LE(0x7fffffff, 24 + 8);
    writeFileSync(join(dir, 'bad.pcap'), bad);
    let r = bpfbox(state, 'replay', join(dir, 'bad.pcap'), '--obj', STATS);
    assert.equal(r.code, 1);
    assert.match(r.err, /^Error: .*bad\.pcap: offset 24: record 0: captured length 2147483647 is larger than 262144 bytes/);
    const wifi = Buffer.from(readFileSync(SAMPLE));
    wifi.writeUInt32LE(105, 20);
    writeFileSync(join(dir, 'wifi.pcap'), wifi);
    r = bpfbox(state, 'replay', join(dir, 'wifi.pcap'), '--obj', STATS, '-j');
    assert.equal(r.code, 1);
    assert.match(JSON.parse(r.out).error, /wifi\.pcap: offset 24: record 0: link type 105 is not supported/);
    r = bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--prog', 'nosuch');
    assert.match(r.err, /^Error: .*xdp_stats\.o: no program named nosuch \(it has xdp_stats\)/);
    r = bpfbox(state, 'replay', SAMPLE, '--obj', join(REPO_ROOT, 'bpf', 'sock_proto.o'), '--type', 'xdp');
    assert.match(r.err, /no xdp program/);
  });

  it('--config: every replay flag can come from a config; the same run as with flags', () => {
    const init = join(dir, 'init.json');
    writeFileSync(
      init,
      JSON.stringify({
        maps: {
          blocked: [
            ['090000000a000000', '01000000'],
            ['100000000ac80000', '01000000'],
          ],
        },
      }),
    );
    const outs = (tag: string) => [
      '--out',
      join(dir, `${tag}.pcapng`),
      '--out-pass',
      join(dir, `${tag}-pass.pcap`),
      '--out-drop',
      join(dir, `${tag}-drop.pcap`),
    ];
    const a = bpfbox(state, 'replay', '--config', join(REPO_ROOT, 'config', 'firewall.yaml'), ...outs('a'), '--json');
    const b = bpfbox(
      state,
      'replay',
      SAMPLE,
      '--obj',
      join(REPO_ROOT, 'bpf', 'lpm_firewall.o'),
      '--prog',
      'xdp_firewall',
      '--type',
      'xdp',
      '--workers',
      '2',
      '--deterministic',
      '--seed',
      '7',
      '--map-init',
      init,
      ...outs('b'),
      '--json',
    );
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    const strip = (o: string) => ({ ...JSON.parse(o), seconds: 0, mpps: 0, busy_seconds: [], max_rss_mb: 0 });
    assert.deepEqual(strip(a.out), strip(b.out));
    const s = JSON.parse(a.out);
    assert.ok(s.verdict_names.XDP_DROP > 100 && s.verdict_names.XDP_PASS > 100, JSON.stringify(s.verdict_names));
    for (const f of ['', '-pass', '-drop'])
      assert.deepEqual(
        readFileSync(join(dir, `a${f}.${f ? 'pcap' : 'pcapng'}`)),
        readFileSync(join(dir, `b${f}.${f ? 'pcap' : 'pcapng'}`)),
        f,
      );
    const bad = bpfbox(state, 'replay', '--config', join(REPO_ROOT, 'config', 'firewall.yaml'), '--config-program', 'nosuch');
    assert.match(bad.err, /firewall\.yaml: no program named nosuch/);
  });

  it('a progress bar on a terminal (packets, rate, ETA), none on a pipe', function () {
    const tty = spawnSync('script', ['-qc', `${process.execPath} ${CLI} replay ${SAMPLE} --obj ${STATS} --workers 1`, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, BPFBOX_BPFFS: state },
    });
    if (tty.error) this.skip(); // util-linux's script is not installed
    assert.match(tty.stdout, /\| 1000 packets \| [\d.]+ Mpps \| ETA \d+s/);
    const pipe = bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--workers', '1');
    assert.doesNotMatch(pipe.err + pipe.out, /ETA/);
  });
});
