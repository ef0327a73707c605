import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { CLI, bpfbox } from './cliSupport.js';

const require = createRequire(import.meta.url);
const SAMPLE = join(REPO_ROOT, 'pcaps', 'sample.pcap');
const EVENTS_O = join(REPO_ROOT, 'bpf', 'events.o');

/** frames: the sample's packets as pcap-parser (not bpfbox) reads them. */
function frames(): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const p = require('pcap-parser').parse(SAMPLE);
    p.on('packet', (x: { data: Buffer }) => out.push(Buffer.from(x.data)));
    p.on('end', () => resolve(out));
    p.on('error', reject);
  });
}

/**
 * expected: the records bpf/events.c writes for a frame, computed from its bytes here: an
 * IPv4 frame with a 20-byte header and room for the ports; UDP: saddr, daddr (wire order),
 * sport, dport (host order u16), the frame length (u32); TCP: the same without the length.
 */
function expected(f: Buffer): { kind: 'ringbuf' | 'perf'; hex: string } | undefined {
  if (f.length < 14 + 20 + 4 || f.readUInt16BE(12) !== 0x0800 || f[14] !== 0x45) return undefined;
  const proto = f[14 + 9];
  if (proto !== 17 && proto !== 6) return undefined;
  const b = Buffer.alloc(proto === 17 ? 16 : 12);
  f.copy(b, 0, 14 + 12, 14 + 20);
  b.writeUInt16LE(f.readUInt16BE(34), 8);
  b.writeUInt16LE(f.readUInt16BE(36), 10);
  if (proto === 17) b.writeUInt32LE(f.length, 12);
  return { kind: proto === 17 ? 'ringbuf' : 'perf', hex: b.toString('hex') };
}

interface EventLine {
  map: string;
  map_id: number;
  cpu: number;
  kind: string;
  data: string;
  value?: Record<string, number>;
}

const lines = (text: string): EventLine[] =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EventLine);

describe('events: ring buffer and perf events of replay and prog run (--events), counts in the summary, prog tracelog', function () {
  this.timeout(120_000);
  let dir: string;
  let want: { kind: 'ringbuf' | 'perf'; hex: string }[];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-events-'));
    want = (await frames()).map(expected).filter((x) => x !== undefined);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [workers, engine] of [
    ['1', 'jit'],
    ['2', 'jit'],
    ['2', 'interpreter'],
  ])
    it(`replay --workers ${workers} --engine ${engine}: the summary's counts and the JSON lines are the packets the program emits for, byte for byte`, () => {
      const file = join(dir, `ev${workers}${engine}.jsonl`);
      const r = bpfbox(dir, 'replay', SAMPLE, '--obj', EVENTS_O, '--workers', workers, '--engine', engine, '--events', file, '--json');
      assert.equal(r.code, 0, r.err);
      const s = JSON.parse(r.out) as { events: { map: string; kind: string; count: number }[] };
      const udp = want.filter((w) => w.kind === 'ringbuf');
      const tcp = want.filter((w) => w.kind === 'perf');
      assert.ok(udp.length > 100 && tcp.length > 100, `the sample has UDP and TCP (${udp.length}, ${tcp.length})`);
      assert.deepEqual(
        s.events.map((e) => [e.map, e.kind, e.count]),
        [
          ['udp_events', 'ringbuf', udp.length],
          ['tcp_events', 'perf', tcp.length],
        ],
      );
      const got = lines(readFileSync(file, 'utf8'));
      const ring = got.filter((g) => g.map === 'udp_events');
      const perf = got.filter((g) => g.map === 'tcp_events');
      assert.ok(
        ring.every((g) => g.kind === 'ringbuf'),
        'ring records say ringbuf',
      );
      assert.ok(
        perf.every((g) => g.kind === 'perf' && g.cpu < Number(workers)),
        'perf samples say perf, on a worker CPU',
      );
      // one worker reads in capture order; several: each record once
      const norm = (xs: string[]) => (workers === '1' ? xs : [...xs].sort());
      assert.deepEqual(norm(ring.map((g) => g.data)), norm(udp.map((w) => w.hex)));
      assert.deepEqual(norm(perf.map((g) => g.data)), norm(tcp.map((w) => w.hex)));
      // the typed value is the struct read from the same bytes
      for (const g of got.slice(0, 50)) {
        const b = Buffer.from(g.data, 'hex');
        assert.deepEqual(
          {
            saddr: g.value?.saddr,
            daddr: g.value?.daddr,
            sport: g.value?.sport,
            dport: g.value?.dport,
            len: g.value?.len,
          },
          {
            saddr: b.readUInt32LE(0),
            daddr: b.readUInt32LE(4),
            sport: b.readUInt16LE(8),
            dport: b.readUInt16LE(10),
            len: b.length === 16 ? b.readUInt32LE(12) : undefined,
          },
          JSON.stringify(g),
        );
      }
    });

  it('the text summary has the event line without --events; --events - beside --out - is one clear error', () => {
    const r = bpfbox(dir, 'replay', SAMPLE, '--obj', EVENTS_O, '--workers', '1');
    assert.equal(r.code, 0, r.err);
    const udp = want.filter((w) => w.kind === 'ringbuf').length;
    const tcp = want.filter((w) => w.kind === 'perf').length;
    assert.match(r.out, new RegExp(`^events: ${udp} \\(ringbuf udp_events\\), ${tcp} \\(perf tcp_events\\)$`, 'm'));
    const bad = bpfbox(dir, 'replay', SAMPLE, '--obj', EVENTS_O, '--events', '-', '--out', '-');
    assert.notEqual(bad.code, 0);
    assert.equal(bad.err.trim().split('\n').length, 1, bad.err);
    assert.match(bad.err, /--events -/);
  });

  it('--events - writes the lines on standard output, the summary on stderr', () => {
    const r = bpfbox(dir, 'replay', SAMPLE, '--obj', EVENTS_O, '--workers', '1', '--events', '-');
    assert.equal(r.code, 0, r.err);
    assert.equal(lines(r.out).length, want.length);
    assert.match(r.err, /^events: /m);
  });

  it('replay --config: `events: FILE` (relative to the config) is --events', () => {
    const sub = mkdtempSync(join(dir, 'cfg-'));
    const cfg = join(sub, 'c.yaml');
    writeFileSync(
      cfg,
      `workers: 1\nevents: ev.jsonl\nprograms:\n  - { name: e, obj: ${EVENTS_O} }\nsources:\n  - { program: e, captures: [${SAMPLE}] }\n`,
    );
    const r = bpfbox(dir, 'replay', '--config', cfg);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      // each map's records in capture order (one worker)
      lines(readFileSync(join(sub, 'ev.jsonl'), 'utf8'))
        .sort((x, y) => x.map.localeCompare(y.map))
        .map((g) => g.data),
      [...want.filter((w) => w.kind === 'perf'), ...want.filter((w) => w.kind === 'ringbuf')].map((w) => w.hex),
    );
  });

  it('prog run --events: the record of a hand-built UDP packet, once per repeat', () => {
    const state = join(dir, 'fs');
    assert.equal(bpfbox(state, 'prog', 'load', EVENTS_O, '/sys/fs/bpf/ev').code, 0);
    const eth = Buffer.from('ffffffffffff020202020202' + '0800', 'hex');
    const ip = Buffer.from('45000020000000004011' + '0000' + '0a000001' + 'c0a80002', 'hex');
    const udp = Buffer.from('04d20035000c0000' + '61626364', 'hex');
    const pkt = Buffer.concat([eth, ip, udp]);
    writeFileSync(join(dir, 'pkt'), pkt);
    const out = join(dir, 'run.jsonl');
    const r = bpfbox(state, 'prog', 'run', 'pinned', '/sys/fs/bpf/ev', 'data_in', join(dir, 'pkt'), 'repeat', '3', '--events', out);
    assert.equal(r.code, 0, r.err);
    const got = lines(readFileSync(out, 'utf8'));
    // 10.0.0.1 -> 192.168.0.2, 1234 -> 53, 46 bytes
    const rec = '0a000001' + 'c0a80002' + 'd204' + '3500' + '2e000000';
    assert.deepEqual(
      got.map((g) => [g.map, g.kind, g.data]),
      Array(3).fill(['udp_events', 'ringbuf', rec]),
    );
    assert.deepEqual(got[0].value, { saddr: 0x0100000a, daddr: 0x0200a8c0, sport: 1234, dport: 53, len: 46 });
  });

  describe('prog tracelog', () => {
    const state = () => join(dir, 'tl');
    let serve: ChildProcess | undefined;
    let reader: ChildProcess | undefined;
    after(async () => {
      for (const p of [reader, serve])
        if (p && p.exitCode === null && p.signalCode === null) {
          const exited = new Promise((ok) => p.once('exit', ok));
          p.kill('SIGTERM');
          await exited;
        }
    });

    it('with no serve running: one line saying so, exit 1', () => {
      const r = bpfbox(state(), 'prog', 'tracelog');
      assert.equal(r.code, 1);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.match(r.err, /no bpfbox serve is running/);
    });

    it("receives the lines a serve'd program printed, in trace_pipe's layout; Ctrl-C exits 0", async () => {
      const lens = new Set((await frames()).map((f) => f.length));
      const cfg = join(dir, 'tl.yaml');
      writeFileSync(
        cfg,
        `workers: 1
programs:
  - { name: tp, obj: ${join(REPO_ROOT, 'bpf', 'trace_print.o')} }
sources:
  - { program: tp, captures: [${SAMPLE}], mode: rate, rate: 200 }
`,
      );
      const s = spawn(process.execPath, [CLI, 'serve', '--config', cfg, '--metrics-addr', '127.0.0.1:0'], {
        env: { ...process.env, BPFBOX_BPFFS: state() },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      serve = s;
      await new Promise<void>((ok, fail) => {
        let err = '';
        const t = setTimeout(() => fail(new Error(`serve did not start in 30 s: ${err}`)), 30_000);
        s.stderr!.setEncoding('utf8');
        s.stderr!.on('data', (d: string) => {
          err += d;
          if (/control on /.test(err)) {
            clearTimeout(t);
            ok();
          }
        });
        s.once('exit', (code) => fail(new Error(`serve exited with ${code}: ${err}`)));
      });
      const t = spawn(process.execPath, [CLI, 'prog', 'tracelog'], {
        env: { ...process.env, BPFBOX_BPFFS: state() },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      reader = t;
      const line = await new Promise<string>((ok, fail) => {
        let out = '';
        const timer = setTimeout(() => fail(new Error(`no trace line in 30 s: ${out}`)), 30_000);
        t.stdout!.setEncoding('utf8');
        t.stdout!.on('data', (d: string) => {
          out += d;
          const m = /^.*bpf_trace_printk: len \d+$/m.exec(out);
          if (m) {
            clearTimeout(timer);
            ok(m[0]);
          }
        });
        t.once('exit', (code) => fail(new Error(`tracelog exited with ${code}: ${out}`)));
      });
      const m = /^ +bpfbox-(\d+) +\[(\d{3})\] \.{5} +\d+\.\d{6}: bpf_trace_printk: len (\d+)$/.exec(line);
      assert.ok(m, line);
      assert.equal(Number(m[1]), s.pid, 'the pid is the serve process');
      assert.equal(m[2], '000', 'one worker: CPU 0');
      assert.ok(lens.has(Number(m[3])), `len ${m[3]} is the length of a packet of the capture`);
      const code = await new Promise<number | null>((ok) => {
        t.once('exit', (c) => ok(c));
        t.kill('SIGINT');
      });
      assert.equal(code, 0);
    });
  });
});
