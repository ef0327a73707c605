import type { MapsJson } from '../../appliance/datapath/mapsJson.js';
import { hexMaps } from '../support/hexMaps.js';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tcpdumpArgs } from '../../appliance/cli/tcpdumpArgs.js';
import { REPO_ROOT } from '../support/paths.js';
import { writeLoopbackCapture } from '../pcaps/loopbackCaptures.js';
import { CLI, bpfbox, tempState } from './cliSupport.js';

const SAMPLE = join(REPO_ROOT, 'pcaps', 'sample.pcap');
const STATS = join(REPO_ROOT, 'bpf', 'xdp_stats.o');
const has = (cmd: string) => !spawnSync(cmd, ['--version']).error;

interface Ran {
  out: Buffer;
  err: string;
  code: number | null;
}
type Cmd = readonly [string, ...string[]];

/** proto_stats of xdp_stats summed over CPUs: "ethertype/proto" → [packets, bytes]. */
function protoStats(json: string): Map<string, [bigint, bigint]> {
  const s = JSON.parse(json) as { maps: MapsJson };
  return new Map(
    Object.entries(hexMaps(s.maps).proto_stats).map(([k, cpus]) => {
      const key = Buffer.from(k.replace(/^0x/, ''), 'hex');
      const sum = (cpus as string[])
        .map((v) => Buffer.from(v, 'hex'))
        .reduce((a, b) => [a[0] + b.readBigUInt64LE(0), a[1] + b.readBigUInt64LE(8)], [0n, 0n]);
      return [`${key.readUInt16LE(0).toString(16)}/${key[2]}`, sum as [bigint, bigint]];
    }),
  );
}

describe('bpfbox replay: streams, standard input and output (tcpdump habits)', function () {
  this.timeout(120_000);
  let dir: string;
  const state = tempState();
  const children: ChildProcess[] = [];
  const env = { ...process.env, BPFBOX_BPFFS: state };

  /**
   * pipeline runs `cmds` in bash joined by `|` (real pipes: tshark refuses to read a socket,
   * which is what Node gives a child for stdio), and resolves with the last one's stdout and
   * each one's stderr and exit code; the whole group is killed after 60 s.
   */
  let runs = 0;
  function pipeline(...cmds: Cmd[]): Promise<Ran[]> {
    const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const k = runs++;
    const errs = cmds.map((_, i) => join(dir, `run${k}.err${i}`));
    const codes = join(dir, `run${k}.codes`);
    const script =
      cmds
        .map(
          ([c, ...args], i) => [c === 'bpfbox' ? q(process.execPath) + ' ' + q(CLI) : q(c), ...args.map(q)].join(' ') + ` 2>${q(errs[i])}`,
        )
        .join(' | ') + `; echo "\${PIPESTATUS[@]}" > ${q(codes)}`;
    const p = spawn('bash', ['-c', script], { env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    children.push(p);
    const out: Buffer[] = [];
    p.stdout!.on('data', (d: Buffer) => out.push(d));
    const timer = setTimeout(() => process.kill(-p.pid!, 'SIGKILL'), 60_000);
    return new Promise<Ran[]>((ok) =>
      p.on('close', () => {
        clearTimeout(timer);
        const code = readFileSync(codes, 'utf8').trim().split(' ').map(Number);
        ok(
          cmds.map((_, i) => ({
            out: i === cmds.length - 1 ? Buffer.concat(out) : Buffer.alloc(0),
            err: readFileSync(errs[i], 'utf8'),
            code: code[i],
          })),
        );
      }),
    );
  }

  before(() => (dir = mkdtempSync(join(tmpdir(), 'bpfbox-replaystreams-'))));
  after(() => {
    for (const c of children)
      if (c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(-c.pid!, 'SIGKILL'); // the pipeline's group
        } catch {
          c.kill('SIGKILL');
        }
      }
    rmSync(dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  it('the command line: -r is the capture argument in its place, - is standard input, --out - reaches yargs', () => {
    assert.deepEqual(tcpdumpArgs(['replay', 'a', '-r', 'b', 'c', '-rd', '-r=e']), ['replay', 'a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(tcpdumpArgs(['replay', '-', '-w', '-', '--obj', 'x.o']), ['replay', '/dev/stdin', '-w=-', '--obj', 'x.o']);
    assert.deepEqual(tcpdumpArgs(['replay', '-r', '-', '--out-pass', '-']), ['replay', '/dev/stdin', '--out-pass=-']);
    assert.deepEqual(tcpdumpArgs(['map', 'dump', '-']), ['map', 'dump', '-']);
  });

  let fromFile: Map<string, [bigint, bigint]>;
  before(() => {
    const r = bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--workers', '1', '--json');
    assert.equal(r.code, 0, r.err);
    fromFile = protoStats(r.out);
    assert.ok(fromFile.size > 2);
  });

  it('tcpdump -r x.pcap -w - | bpfbox replay - : the same counts as the file', async function () {
    if (!has('tcpdump')) this.skip(); // tcpdump is not installed (.ci/run installs it)
    const [td, bb] = await pipeline(
      ['tcpdump', '-r', SAMPLE, '-w', '-'],
      ['bpfbox', 'replay', '-', '--obj', STATS, '--workers', '2', '--json'],
    );
    assert.equal(td.code, 0, td.err);
    assert.equal(bb.code, 0, bb.err);
    assert.equal(JSON.parse(bb.out.toString()).packets, 1000);
    assert.deepEqual(protoStats(bb.out.toString()), fromFile);
  });

  it('a pipe that delivers in pieces, read with -r -', async () => {
    const [, bb] = await pipeline(
      ['sh', '-c', 'head -c 3000 "$1"; sleep 0.3; tail -c +3001 "$1"', 'sh', SAMPLE],
      ['bpfbox', 'replay', '-r', '-', '--obj', STATS, '--workers', '1', '--json'],
    );
    assert.equal(bb.code, 0, bb.err);
    assert.deepEqual(protoStats(bb.out.toString()), fromFile);
  });

  it('- as a capture in a config (replay --config); serve takes it once, and refuses it to loop or twice', async () => {
    const cfg = join(dir, 'stdin.yaml');
    const yaml = (mode: string, captures: string) =>
      `programs:\n  - name: s\n    obj: ${STATS}\nsources:\n  - program: s\n    captures: ${captures}\n${mode ? `    mode: ${mode}\n` : ''}`;
    writeFileSync(cfg, yaml('', '["-"]'));
    const [, bb] = await pipeline(['cat', SAMPLE], ['bpfbox', 'replay', '--config', cfg, '--workers', '1', '--json']);
    assert.equal(bb.code, 0, bb.err);
    assert.deepEqual(protoStats(bb.out.toString()), fromFile);
    for (const [mode, captures, why] of [
      ['loop', '["-"]', '- (standard input) can be read once only: mode once, not loop'],
      ['', '["-", "-"]', '- (standard input) is already sources[0].captures[0]'],
    ]) {
      writeFileSync(cfg, yaml(mode, captures));
      const r = bpfbox(state, 'serve', '--config', cfg);
      assert.equal(r.code, 1);
      assert.match(
        r.err.trim(),
        new RegExp(`^Error: ${cfg.replace(/[.]/g, '\\.')}: sources\\[0\\]\\.captures\\[\\d\\]: ${why.replace(/[().[\]]/g, '\\$&')}$`),
      );
    }
  });

  it('a FIFO made with mkfifo, read with -r (no seek, no size)', async () => {
    const fifo = join(dir, 'in.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const w = spawn('sh', ['-c', 'exec cat "$1" > "$2"', 'sh', SAMPLE, fifo], { stdio: 'ignore', detached: true });
    children.push(w);
    const [bb] = await pipeline(['bpfbox', 'replay', '-r', fifo, '--obj', STATS, '--workers', '2', '--json']);
    assert.equal(bb.code, 0, bb.err);
    assert.deepEqual(protoStats(bb.out.toString()), fromFile);
  });

  it('bpfbox replay --out-pass - | tshark -r - : the packets that pass, as tshark filters them; the summary on stderr', async function () {
    if (!has('tshark')) this.skip(); // tshark is not installed (.ci/run installs it)
    const fields = ['-T', 'fields', '-e', 'frame.len', '-e', 'eth.type', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.src'];
    const [bb, ts] = await pipeline(
      ['bpfbox', 'replay', SAMPLE, '--obj', STATS, '--set', 'drop_proto=6', '--workers', '2', '--out-pass', '-'],
      ['tshark', '-r', '-', ...fields],
    );
    assert.equal(bb.code, 0, bb.err);
    assert.equal(ts.code, 0, ts.err);
    assert.match(bb.err, /^xdp program xdp_stats: 1000 packets, /m);
    assert.match(bb.err, /^verdicts: XDP_DROP \d+, XDP_PASS \d+/m);
    const want = spawnSync('tshark', ['-r', SAMPLE, '-Y', 'not tcp', ...fields], { encoding: 'utf8' });
    assert.equal(want.status, 0, want.stderr);
    const sorted = (s: string) => s.split('\n').filter(Boolean).sort();
    assert.ok(sorted(want.stdout).length > 100);
    // two workers: packets come back in capture order, but compare as sets of lines to be safe about that claim elsewhere
    assert.deepEqual(sorted(ts.out.toString()), sorted(want.stdout));
  });

  it('-w - writes the capture alone on stdout (pcap magic first), --json on stderr', async () => {
    const [bb] = await pipeline(['bpfbox', 'replay', '-r', SAMPLE, '--obj', STATS, '--workers', '1', '-w', '-', '--json']);
    assert.equal(bb.code, 0, bb.err);
    assert.equal(bb.out.readUInt32LE(0), 0xa1b23c4d); // nanosecond pcap
    assert.equal(JSON.parse(bb.err).packets, 1000);
    // the sample is classic pcap too, every packet passes unchanged: the same 24 + 16 + caplen bytes per packet
    assert.equal(bb.out.length, readFileSync(SAMPLE).length);
  });

  it('progress on a terminal from a stream: packets and rate, no percentage or ETA (the size is unknown)', function () {
    const cmd = `cat ${SAMPLE} | ${process.execPath} ${CLI} replay - --obj ${STATS} --workers 1 >/dev/null`;
    const tty = spawnSync('script', ['-qc', cmd, '/dev/null'], { encoding: 'utf8', env, timeout: 60_000 });
    if (tty.error) this.skip(); // util-linux's script is not installed
    assert.match(tty.stdout, / 1000 packets \| [\d.]+ Mpps/);
    assert.doesNotMatch(tty.stdout, /ETA|%/);
  });

  it('two outputs on standard output, or standard input twice: one line saying so, non-zero, no stack', () => {
    const r = bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--out', '-', '--out-drop', '-');
    assert.notEqual(r.code, 0);
    assert.equal(r.out, '');
    assert.match(r.err, /only one of them can be - \(standard output\)/);
    assert.doesNotMatch(r.err, /\n\s+at /);
    const twice = bpfbox(state, 'replay', '-', '-r', '-', '--obj', STATS);
    assert.notEqual(twice.code, 0);
    assert.match(twice.err, /standard input is given twice; it can be read once/);
    assert.doesNotMatch(twice.err, /\n\s+at /);
  });

  it('a DLT_NULL capture (macOS lo0): the program sees Ethernet frames; tshark agrees on what they carry', async function () {
    if (!has('tshark')) this.skip(); // tshark is not installed (.ci/run installs it)
    const nul = join(dir, 'null.pcap');
    const eth = join(dir, 'eth.pcap');
    const n = writeLoopbackCapture(SAMPLE, nul, { linkType: 0, littleEndian: true, inet6: 30 });
    const r = bpfbox(state, 'replay', nul, '--obj', STATS, '--workers', '2', '--json', '--out', eth);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).packets, n);
    // what tshark decodes of the loopback capture, counted as xdp_stats counts (Ethernet length: 10 more bytes)
    const t = spawnSync(
      'tshark',
      ['-r', nul, '-T', 'fields', '-e', 'null.family', '-e', 'ip.proto', '-e', 'ipv6.nxt', '-e', 'frame.cap_len'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(t.status, 0, t.stderr);
    const want = new Map<string, [bigint, bigint]>();
    for (const line of t.stdout.split('\n').filter(Boolean)) {
      const [family, p4, p6, len] = line.split('\t');
      const key = `${family === '2' ? '800' : '86dd'}/${family === '2' ? p4 : p6}`;
      const [p, b] = want.get(key) ?? [0n, 0n];
      want.set(key, [p + 1n, b + BigInt(Number(len) + 10)]);
    }
    assert.deepEqual(protoStats(r.out), want);
    // and the frames written out are Ethernet frames carrying the same packets
    const f = ['-T', 'fields', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tcp.srcport', '-e', 'udp.dstport'];
    const a = spawnSync('tshark', ['-r', nul, ...f], { encoding: 'utf8' });
    const b = spawnSync('tshark', ['-r', eth, ...f, '-e', 'eth.type'], { encoding: 'utf8' });
    const types = new Set(
      b.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t').pop()),
    );
    assert.deepEqual([...types].sort(), ['0x0800', '0x86dd']);
    const strip = (s: string) => s.split('\n').map((l) => l.split('\t').slice(0, 5).join('\t'));
    assert.deepEqual(strip(b.stdout), strip(a.stdout));
  });
});
