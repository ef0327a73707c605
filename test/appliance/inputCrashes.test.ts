import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { CLI, bpfbox, tempState } from './cliSupport.js';

/**
 * Issue 22, crashes on input (items 6, 11, 12, 14): each input that crashed the appliance is
 * now one line and an exit code, checked against an independent reader (tshark) or bpftool
 * where one applies.
 */

const XDP = join(REPO_ROOT, 'bpf', 'xdp_mtu.o');
/** A 60-byte broadcast IPv4 frame. */
const FRAME = Buffer.concat([Buffer.alloc(6, 0xff), Buffer.alloc(6, 0x02), Buffer.from([0x08, 0x00]), Buffer.alloc(46)]);

/** pcapngBlock: a little-endian pcapng block of `type` around `body` (padded to 4). */
function pcapngBlock(type: number, body: Buffer): Buffer {
  const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
  const len = 12 + padded.length;
  const h = Buffer.alloc(8);
  h.writeUInt32LE(type, 0);
  h.writeUInt32LE(len, 4);
  const t = Buffer.alloc(4);
  t.writeUInt32LE(len, 0);
  return Buffer.concat([h, padded, t]);
}

/** pcapngWith: a section with one interface of if_tsresol `resol` and a packet at each raw 64-bit timestamp. */
function pcapngWith(resol: number, stamps: readonly bigint[]): Buffer {
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeBigInt64LE(-1n, 8);
  const idb = Buffer.alloc(16);
  idb.writeUInt16LE(1, 0); // LINKTYPE_ETHERNET
  idb.writeUInt16LE(9, 8); // if_tsresol, 1 byte
  idb.writeUInt16LE(1, 10);
  idb[12] = resol; // then opt_endofopt is the zeroes after the padding
  const blocks = [pcapngBlock(0x0a0d0d0a, shb), pcapngBlock(1, Buffer.concat([idb, Buffer.alloc(4)]))];
  for (const ts of stamps) {
    const epb = Buffer.alloc(20);
    epb.writeUInt32LE(Number(ts >> 32n), 4);
    epb.writeUInt32LE(Number(ts & 0xffffffffn), 8);
    epb.writeUInt32LE(FRAME.length, 12);
    epb.writeUInt32LE(FRAME.length, 16);
    blocks.push(pcapngBlock(6, Buffer.concat([epb, FRAME])));
  }
  return Buffer.concat(blocks);
}

/** pcapWithCorruptRecord: `n` good records, then one whose caplen (16 MiB) no reader takes. */
function pcapWithCorruptRecord(n: number): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(1, 20);
  const rec = (sec: number, caplen: number) => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(sec, 0);
    h.writeUInt32LE(caplen, 8);
    h.writeUInt32LE(caplen, 12);
    return Buffer.concat([h, FRAME]);
  };
  return Buffer.concat([head, ...Array.from({ length: n }, (_, i) => rec(1_700_000_000 + i, FRAME.length)), rec(1, 0xffffff)]);
}

const hasTshark = !spawnSync('tshark', ['-v']).error;
const tsharkEpochs = (path: string): string[] =>
  spawnSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8' }).stdout.trim().split('\n');

/** oneLineError: stderr is exactly one `Error: …` line (no stack, no second report). */
function oneLineError(err: string): string {
  const lines = err.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${err}`);
  assert.match(lines[0], /^Error: /);
  assert.doesNotMatch(err, /\n\s+at /);
  return lines[0];
}

describe('issue 22: crashes on input', function () {
  this.timeout(180_000);
  let dir: string;
  let state: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-inputcrash-'));
    state = tempState();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  describe('12: replay --out o.pcapng with 64-bit timestamps at any if_tsresol', () => {
    const cases: [string, number, bigint[]][] = [
      ['seconds (10^0), 2^64-1', 0, [0xffff_ffff_ffff_ffffn, 1n, 0x1_0000_0000n]],
      ['2^0 seconds, 2^64-1', 0x80, [0xffff_ffff_ffff_ffffn, 12345n]],
      ['nanoseconds, 2^64-1', 9, [0xffff_ffff_ffff_ffffn]],
      ['microseconds, 2^64-1', 6, [0xffff_ffff_ffff_ffffn, 1_700_000_000_123_456n]],
      ['milliseconds, 2^50', 3, [1n << 50n, 123456n]],
      ['2^-30 seconds, 2^64-1', 0x9e, [0xffff_ffff_ffff_ffffn, 1n << 30n]],
    ];
    for (const [name, resol, stamps] of cases)
      it(`${name}: tshark reads the same instants in the output as in the input`, function () {
        const input = join(dir, `in-${resol}.pcapng`);
        const out = join(dir, `out-${resol}.pcapng`);
        writeFileSync(input, pcapngWith(resol, stamps));
        const r = bpfbox(state, 'replay', '--obj', XDP, input, '--out', out);
        assert.equal(r.code, 0, r.err);
        assert.doesNotMatch(r.err, /RangeError|\n\s+at /);
        if (!hasTshark) {
          console.log('      (tshark is not installed: the output is not compared)');
          return this.skip();
        }
        const want = tsharkEpochs(input);
        assert.equal(want.length, stamps.length);
        assert.deepEqual(tsharkEpochs(out), want);
      });
  });

  // 100,000 records: a streamed pass, where the error came with the workers still running (before the fix: 3 of 3 runs on 1 worker)
  it('11: a corrupt pcap record is one error, every time (20 runs, 1 and 2 workers)', () => {
    const input = join(dir, 'corrupt.pcap');
    writeFileSync(input, pcapWithCorruptRecord(100_000));
    for (let i = 0; i < 20; i++) {
      const r = bpfbox(state, 'replay', '--obj', XDP, input, '--workers', String(1 + (i % 2)));
      assert.equal(r.code, 1, r.err);
      const line = oneLineError(r.err);
      assert.match(line, /corrupt\.pcap: offset 7600024: record 100000: captured length 16777215 is larger than 262144 bytes/);
    }
  });

  describe('6: --metrics-addr and metrics.addr agree', () => {
    let config: string;
    before(() => {
      config = join(dir, 'c.yaml');
      writeFileSync(config, `programs:\n  - name: a\n    obj: ${XDP}\n`);
    });
    it(':9440 (no host) is refused by the flag as the schema refuses it in the config', () => {
      const flag = bpfbox(state, 'serve', '--config', config, '--metrics-addr', ':9440');
      assert.notEqual(flag.code, 0);
      assert.match(oneLineError(flag.err), /--metrics-addr :9440: no host: give 127\.0\.0\.1:9440 .* 0\.0\.0\.0:9440/);
      const inConfig = join(dir, 'c2.yaml');
      writeFileSync(inConfig, `metrics:\n  addr: ":9440"\nprograms:\n  - name: a\n    obj: ${XDP}\n`);
      const cfg = bpfbox(state, 'serve', '--config', inConfig);
      assert.notEqual(cfg.code, 0);
      assert.match(oneLineError(cfg.err), /metrics\.addr/);
    });
    it('an explicit 0.0.0.0 listens, with a warning that it is public', async () => {
      const p = spawn(process.execPath, [CLI, 'serve', '--config', config, '--metrics-addr', '0.0.0.0:0'], {
        env: { ...process.env, BPFBOX_BPFFS: state },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      try {
        await new Promise<void>((ok, fail) => {
          const timer = setTimeout(() => fail(new Error(`no start in 60 s: ${err}`)), 60_000);
          p.stderr!.on('data', (d: Buffer) => {
            err += d.toString();
            if (/metrics on \S+,/.test(err)) (clearTimeout(timer), ok());
          });
          p.on('exit', (code) => (clearTimeout(timer), fail(new Error(`serve exited with ${code}: ${err}`))));
        });
      } finally {
        p.kill('SIGTERM');
      }
      assert.match(err, /warning: --metrics-addr 0\.0\.0\.0:0: metrics listen on every interface \(public/);
      assert.match(err, /metrics on http:\/\/0\.0\.0\.0:\d+\/metrics/);
    });
  });

  describe('14: prog load and prog run as bpftool', () => {
    let noProg: string;
    before(function () {
      noProg = join(dir, 'noprog.o');
      const src = join(dir, 'noprog.c');
      writeFileSync(src, 'int x = 1;\n');
      const cc = spawnSync('clang-14', ['-O2', '-target', 'bpf', '-c', src, '-o', noProg], { encoding: 'utf8' });
      if (cc.error || cc.status !== 0) {
        console.log('      (clang-14 is not installed: no object without programs to load)');
        noProg = '';
      }
    });
    it("an object with no programs is one line (bpftool: object file doesn't contain any bpf program)", function () {
      if (!noProg) return this.skip();
      const r = bpfbox(state, 'prog', 'load', noProg, '/sys/fs/bpf/np');
      assert.equal(r.code, 255);
      assert.match(oneLineError(r.err), /noprog\.o: object file doesn't contain any bpf program/);
    });
    it('pinmaps where the pins exist fails as bpftool does, leaving no new pin', () => {
      const first = bpfbox(state, 'prog', 'load', XDP, '/sys/fs/bpf/pl1', 'pinmaps', '/sys/fs/bpf/plm');
      assert.equal(first.code, 0, first.err);
      const second = bpfbox(state, 'prog', 'load', XDP, '/sys/fs/bpf/pl2', 'pinmaps', '/sys/fs/bpf/plm');
      assert.equal(second.code, 255);
      assert.match(oneLineError(second.err), /^Error: failed to pin all maps \(\/sys\/fs\/bpf\/plm\/results: File exists\)$/);
      // bpftool's err_unpin: the program this load pinned is gone again
      assert.equal(bpfbox(state, 'prog', 'show', 'pinned', '/sys/fs/bpf/pl2').code, 255);
      assert.equal(bpfbox(state, 'prog', 'show', 'pinned', '/sys/fs/bpf/pl1').code, 0);
    });
    it("data_size_out -1, repeat abc and ctx_size_out zz are bpftool's can't-parse lines", () => {
      const data = join(dir, 'd.bin');
      writeFileSync(data, Buffer.alloc(64));
      const run = (...a: string[]) => bpfbox(state, 'prog', 'run', 'pinned', '/sys/fs/bpf/pl1', 'data_in', data, ...a);
      for (const [args, line] of [
        [['data_size_out', '-1'], "can't parse -1 as output data size"],
        [['repeat', 'abc'], "can't parse abc as repeat number"],
        [['ctx_size_out', 'zz'], "can't parse zz as output context size"],
      ] as const) {
        const r = run(...args);
        assert.equal(r.code, 255, r.err);
        assert.equal(oneLineError(r.err), `Error: ${line}`);
        assert.equal(r.out, '');
      }
      const ok = run('repeat', '0x2');
      assert.equal(ok.code, 0, ok.err);
      assert.match(ok.out, /^Return value: \d+, duration \(average\): \d+ns$/m);
    });
    it('byte tokens saturate as strtoul does (compared with bpftool on a real map where it can run)', () => {
      assert.equal(
        bpfbox(state, 'map', 'create', '/sys/fs/bpf/bm', 'type', 'hash', 'key', '1', 'value', '1', 'entries', '4', 'name', 'bm').code,
        0,
      );
      const tokens = [
        ['99999999999999999999', '0x1ff'],
        ['300', '18446744073709551615'],
      ];
      for (const [k, v] of tokens) assert.equal(bpfbox(state, 'map', 'update', 'pinned', '/sys/fs/bpf/bm', 'key', k, 'value', v).code, 0);
      const ours = bpfbox(state, 'map', 'dump', 'pinned', '/sys/fs/bpf/bm').out;
      // hand-computed: strtoul gives ULONG_MAX (ERANGE) for the first key, the byte keeps the low 8 bits
      assert.match(ours, /key: ff {2}value: ff/);
      assert.match(ours, /key: 2c {2}value: ff/);
      const pin = `/sys/fs/bpf/bpfbox-t-${process.pid}-bytes`;
      const bt = spawnSync('bpftool', ['map', 'create', pin, 'type', 'hash', 'key', '1', 'value', '1', 'entries', '4', 'name', 'bm']);
      if (bt.error || bt.status !== 0) {
        console.log('      (bpftool cannot create a map here: compared with the hand-computed bytes only)');
        return;
      }
      try {
        for (const [k, v] of tokens) spawnSync('bpftool', ['map', 'update', 'pinned', pin, 'key', k, 'value', v]);
        const theirs = spawnSync('bpftool', ['map', 'dump', 'pinned', pin], { encoding: 'utf8' }).stdout;
        const lines = (s: string) =>
          s
            .split('\n')
            .filter((l) => l.startsWith('key:'))
            .sort();
        assert.deepEqual(lines(ours), lines(theirs));
      } finally {
        rmSync(pin, { force: true });
      }
    });
  });

  describe('15: limits of the address space, checked with one line', () => {
    it('--workers 64 and a config of workers: 200 name the limit (already so before this branch: issue 17)', () => {
      const input = join(dir, 'w.pcap');
      writeFileSync(input, pcapWithCorruptRecord(1).subarray(0, 24 + 16 + FRAME.length));
      const flag = bpfbox(state, 'replay', '--obj', XDP, input, '--workers', '64');
      assert.equal(flag.code, 1, flag.err);
      assert.match(oneLineError(flag.err), /--workers 64: each worker needs 16 MiB of the 1024 MiB address space: at most 63 workers fit/);
      const config = join(dir, 'w.yaml');
      writeFileSync(config, `workers: 200\nprograms:\n  - name: a\n    obj: ${XDP}\n`);
      const cfg = bpfbox(state, 'replay', '--config', config, input);
      assert.equal(cfg.code, 1, cfg.err);
      assert.match(oneLineError(cfg.err), /at most 63 workers fit/);
    });
    it('--preload of a capture larger than the address space is one line (was a RangeError and a stack)', () => {
      const input = join(dir, 'big.pcap');
      writeFileSync(input, pcapWithCorruptRecord(0).subarray(0, 24));
      truncateSync(input, 1200 * 2 ** 20); // sparse: 1200 MiB of zero records
      try {
        const r = bpfbox(state, 'replay', '--obj', XDP, input, '--preload');
        assert.equal(r.code, 1, r.err);
        assert.match(oneLineError(r.err), /^Error: --preload: the captures .*do not fit .*; replay (them )?without --preload$/);
      } finally {
        rmSync(input, { force: true });
      }
    });
  });
});
