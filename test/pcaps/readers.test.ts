import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCapture } from '../../pcaps/open.js';
import { PcapngReader } from '../../pcaps/pcapngReader.js';
import { CaptureError, type CaptureReader } from '../../pcaps/record.js';
import { writeSynthCapture } from '../../pcaps/synth.js';

const require = createRequire(import.meta.url);

interface Pkt {
  data: string;
  tsSec: number;
  tsNsec: number;
  origLen: number;
  linkType: number;
  ifIndex: number;
}

function readAll(r: CaptureReader): Pkt[] {
  const out: Pkt[] = [];
  for (let p = r.next(); p; p = r.next())
    out.push({
      data: Buffer.from(p.data).toString('hex'),
      tsSec: p.tsSec,
      tsNsec: p.tsNsec,
      origLen: p.origLen,
      linkType: p.linkType,
      ifIndex: p.ifIndex,
    });
  r.close();
  return out;
}
const readPath = (path: string) => readAll(openCapture(path));

/** pcapParse reads a classic pcap with the pcap-parser package (an independent reader). */
function pcapParse(path: string): Promise<{ data: string; tsSec: number; tsUsec: number; origLen: number }[]> {
  const pcapp = require('pcap-parser');
  return new Promise((resolve, reject) => {
    const out: { data: string; tsSec: number; tsUsec: number; origLen: number }[] = [];
    const parser = pcapp.parse(path);
    parser.on(
      'packet',
      (p: { header: { timestampSeconds: number; timestampMicroseconds: number; originalLength: number }; data: Buffer }) =>
        out.push({
          data: p.data.toString('hex'),
          tsSec: p.header.timestampSeconds,
          tsUsec: p.header.timestampMicroseconds,
          origLen: p.header.originalLength,
        }),
    );
    parser.on('end', () => resolve(out));
    parser.on('error', reject);
  });
}

/** swapPcap rewrites a little-endian classic pcap as big-endian, field by field. */
function swapPcap(le: Buffer): Buffer {
  const be = Buffer.from(le);
  for (const o of [0, 8, 12, 16, 20]) be.writeUInt32BE(le.readUInt32LE(o), o);
  be.writeUInt16BE(le.readUInt16LE(4), 4);
  be.writeUInt16BE(le.readUInt16LE(6), 6);
  for (let o = 24; o < le.length; ) {
    for (let k = 0; k < 16; k += 4) be.writeUInt32BE(le.readUInt32LE(o + k), o + k);
    o += 16 + le.readUInt32LE(o + 8);
  }
  return be;
}

const has = (cmd: string) => !spawnSync(cmd, ['--version']).error;

describe('pcaps: readers', function () {
  this.timeout(60_000);
  let dir: string;
  let pcap: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-pcaps-'));
    pcap = join(dir, 'mixed.pcap');
    writeSynthCapture(pcap, { packets: 3000, seed: 7 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('agrees with pcap-parser on a classic pcap, in both byte orders', async () => {
    const ours = readPath(pcap);
    assert.equal(ours.length, 3000);
    const theirs = await pcapParse(pcap);
    assert.deepEqual(
      ours.map((p) => [p.data, p.tsSec, p.tsNsec / 1000, p.origLen]),
      theirs.map((p) => [p.data, p.tsSec, p.tsUsec, p.origLen]),
    );
    const bePath = join(dir, 'be.pcap');
    writeFileSync(bePath, swapPcap(readFileSync(pcap)));
    assert.deepEqual(readPath(bePath), ours);
    assert.deepEqual(
      (await pcapParse(bePath)).map((p) => p.data),
      theirs.map((p) => p.data),
    );
  });

  it('reads what editcap writes: nanosecond pcap and pcapng give the same packets', function () {
    if (!has('editcap')) this.skip(); // wireshark's editcap is not installed (.ci/run installs tshark)
    const ours = readPath(pcap);
    for (const [fmt, name] of [
      ['nsecpcap', 'ns.pcap'],
      ['pcapng', 'x.pcapng'],
    ]) {
      const out = join(dir, name);
      const r = spawnSync('editcap', ['-F', fmt, pcap, out]);
      assert.equal(r.status, 0, r.stderr.toString());
      assert.deepEqual(readPath(out), ours, fmt);
    }
  });

  it('reads a pcapng with several interfaces of different link types (mergecap, text2pcap)', function () {
    if (!has('text2pcap') || !has('mergecap')) this.skip(); // wireshark-common is not installed
    // one raw-IPv4 packet (link type 101) and one Linux cooked (113) packet, from hex dumps
    const ip = '45000020000100004011f9c70a0000010a00000204d20035000c0000deadbeef';
    writeFileSync(join(dir, 'raw.txt'), `0000 ${ip.match(/../g)!.join(' ')}\n`);
    const sll = '00000001000602000000000100000800' + ip;
    writeFileSync(join(dir, 'sll.txt'), `0000 ${sll.match(/../g)!.join(' ')}\n`);
    for (const [n, lt] of [
      ['raw', '101'],
      ['sll', '113'],
    ]) {
      const r = spawnSync('text2pcap', ['-q', '-l', lt, '-n', join(dir, `${n}.txt`), join(dir, `${n}.pcapng`)]);
      assert.equal(r.status, 0, r.stderr.toString());
    }
    const merged = join(dir, 'merged.pcapng');
    assert.equal(spawnSync('mergecap', ['-a', '-w', merged, join(dir, 'raw.pcapng'), join(dir, 'sll.pcapng')]).status, 0);
    const pkts = readPath(merged);
    assert.deepEqual(
      pkts.map((p) => [p.linkType, p.ifIndex, p.data]),
      [
        [101, 0, ip],
        [113, 1, sll],
      ],
    );
  });

  it('reads big-endian pcapng sections, SPBs, binary timestamp resolution and if_tsoffset (hand-built)', () => {
    const path = join(dir, 'be.pcapng');
    writeFileSync(
      path,
      Buffer.concat([
        shb(false),
        idb(false, 1, 0, [
          [9, [0x80 | 10]],
          [14, be64(100)],
        ]),
        epb(false, 0, 3 * 1024 + 512, [1, 2, 3, 4, 5], 60),
        spb(false, [9, 8, 7], 3),
        shb(true),
        idb(true, 228, 4, []),
        epb(true, 0, 1_500_000, [0x45, 0, 0, 20], 5),
      ]),
    );
    const pkts = readPath(path);
    // 3.5 units of 2^-10 s: 3 s + 512/1024 s (+100 s offset); 1_500_000 µs = 1.5 s
    assert.deepEqual(
      pkts.map((p) => [p.data, p.tsSec, p.tsNsec, p.origLen, p.linkType]),
      [
        ['0102030405', 103, 500_000_000, 60, 1],
        ['090807', 0, 0, 3, 1],
        ['45000014', 1, 500_000_000, 5, 228],
      ],
    );
  });

  it('a capture cut off mid-record: the complete records, and a warning naming the offset', () => {
    const size = readFileSync(pcap).length;
    for (const [name, cut] of [
      ['cut-data.pcap', size - 5],
      ['cut-header.pcap', size - readAll(openCapture(pcap)).at(-1)!.data.length / 2 - 10],
    ] as const) {
      const p = join(dir, name);
      writeFileSync(p, readFileSync(pcap));
      truncateSync(p, cut);
      const r = openCapture(p);
      const n = readAll(r).length;
      assert.equal(n, 2999);
      assert.equal(r.warnings.length, 1);
      assert.match(r.warnings[0], /offset \d+: record 2999 is cut off/);
    }
    const ng = join(dir, 'cut.pcapng');
    assert.equal(spawnSync('cp', [pcap, ng]).status, 0);
    writeSynthCapture(ng, { packets: 10, format: 'pcapng' });
    truncateSync(ng, readFileSync(ng).length - 7);
    const r = openCapture(ng);
    assert.equal(readAll(r).length, 9);
    assert.match(r.warnings[0], /offset \d+: the file ends inside the \d+ bytes of a EPB block/);
  });

  it('refuses corrupt headers and oversized records, naming the record', () => {
    const bad = (name: string, bytes: Buffer, re: RegExp) => {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      assert.throws(
        () => readAll(openCapture(p)),
        (e: unknown) => e instanceof CaptureError && re.test(e.message),
      );
    };
    const good = readFileSync(pcap);
    bad('magic.pcap', Buffer.concat([Buffer.from('GIF89a..'), good.subarray(8)]), /offset 0: magic 0x47494638/);
    const big = Buffer.from(good);
    big.writeUInt32LE(300_000, 24 + 8);
    bad('big.pcap', big, /offset 24: record 0: captured length 300000 is larger than 262144 bytes/);
    const snap = Buffer.from(good);
    snap.writeUInt32LE(100, 16);
    bad('snap.pcap', snap, /record \d+: captured length \d+ is larger than the file's snap length 100/);
    bad('noidb.pcapng', Buffer.concat([shb(true), epb(true, 0, 0, [1], 1)]), /record 0: interface 0 was not described/);
    const trail = Buffer.concat([shb(true), idb(true, 1, 0, [])]);
    trail.writeUInt32LE(999, trail.length - 4);
    bad('trail.pcapng', trail, /block IDB: trailing length 999 differs/);
    bad('bom.pcapng', Buffer.concat([shb(true)]).fill(7, 8, 12), /byte-order magic 0x7070707/);
  });

  it('reads epb_verdict and comments back', () => {
    const path = join(dir, 'opts.pcapng');
    writeFileSync(
      path,
      Buffer.concat([
        shb(true),
        idb(true, 1, 0, []),
        epb(true, 0, 0, [1, 2], 2, [
          [7, [2, 1, 0, 0, 0, 0, 0, 0, 0]],
          [1, [...Buffer.from('hi')]],
        ]),
      ]),
    );
    const r = new PcapngReader(path, { readOptions: true });
    const p = r.next()!;
    assert.deepEqual([...p.verdicts![0]], [2, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(p.comments, ['hi']);
  });
});

// a second, deliberately plain pcapng block builder (either byte order) for the tests above
type Opt = [number, number[]];
const be64 = (v: number) => [...Buffer.from(BigInt(v).toString(16).padStart(16, '0'), 'hex')];
function block(le: boolean, type: number, body: number[], opts: Opt[]): Buffer {
  const pad = (a: number[]) => [...a, ...Array((4 - (a.length % 4)) % 4).fill(0)];
  const u16 = (v: number) => (le ? [v & 0xff, v >> 8] : [v >> 8, v & 0xff]);
  const ob = opts.length ? [...opts.flatMap(([c, v]) => [...u16(c), ...u16(v.length), ...pad(v)]), 0, 0, 0, 0] : [];
  const all = [...pad(body), ...ob];
  const b = Buffer.alloc(12 + all.length);
  const w = (v: number, o: number) => (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
  w(type, 0);
  w(b.length, 4);
  b.set(all, 8);
  w(b.length, b.length - 4);
  return b;
}
const u32b = (le: boolean, ...vs: number[]) =>
  vs.flatMap((v) => {
    const b = Buffer.alloc(4);
    if (le) b.writeUInt32LE(v);
    else b.writeUInt32BE(v);
    return [...b];
  });
const shb = (le: boolean) =>
  block(le, 0x0a0d0d0a, [...u32b(le, 0x1a2b3c4d), ...(le ? [1, 0, 0, 0] : [0, 1, 0, 0]), ...Array(8).fill(0xff)], []);
const idb = (le: boolean, lt: number, snap: number, opts: Opt[]) =>
  block(le, 1, [...(le ? [lt & 0xff, lt >> 8] : [lt >> 8, lt & 0xff]), 0, 0, ...u32b(le, snap)], opts);
const epb = (le: boolean, ifc: number, ts: number, data: number[], orig: number, opts: Opt[] = []) =>
  block(le, 6, [...u32b(le, ifc, Math.floor(ts / 2 ** 32), ts % 2 ** 32, data.length, orig), ...data], opts);
const spb = (le: boolean, data: number[], orig: number) => block(le, 3, [...u32b(le, orig), ...data], []);
