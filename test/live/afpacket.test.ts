import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { LiveUnavailable, loadAfPacket, rxSlotRoom, type HandleStats } from '../../appliance/live/native.js';
import { openCapture } from '../../pcaps/open.js';
import { PcapWriter } from '../../pcaps/pcapWriter.js';
import { REPO_ROOT } from '../support/paths.js';

/**
 * The AF_PACKET module alone (native/afpacket.c through appliance/live/native.ts), on veth
 * pairs between two namespaces the test builds: nsA(a0, a1, a2) — nsB(b0, b1, b2). Frames
 * are hand-built here and sent by an independent sender (tcpreplay in nsA) or captured by
 * one (tcpdump at a0); the module runs only in probe children inside nsB
 * (test/live/afpacketProbe.ts), never in this process's namespace.
 */
const PROBE = join(REPO_ROOT, 'dist', 'test', 'live', 'afpacketProbe.js');
const id = `${process.pid}`;
const nsA = `bpfbox-t-${id}-a`;
const nsB = `bpfbox-t-${id}-b`;

const run = (cmd: string, args: readonly string[], timeout = 20_000) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout;
};
const inNs = (ns: string, args: readonly string[], timeout?: number) => run('ip', ['netns', 'exec', ns, ...args], timeout);
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** unavailable: why these tests cannot run here, or undefined. */
function unavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, AF_PACKET)';
  try {
    loadAfPacket();
  } catch (e) {
    if (e instanceof LiveUnavailable) return e.message;
    throw e;
  }
  const probe = spawnSync('ip', ['netns', 'add', `bpfbox-t-${id}-probe`], { encoding: 'utf8' });
  if (probe.status !== 0) return `ip netns does not work: ${probe.error?.message ?? probe.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', `bpfbox-t-${id}-probe`]);
  if (!has('tcpreplay')) return 'no tcpreplay (apt-get install tcpreplay)';
  return undefined;
}

// ---- frames, built by hand ----
const MAC_A = [0x02, 0, 0, 0, 0, 0xa0];
const MAC_B = [0x02, 0, 0, 0, 0, 0xb0];
const bytes = (n: number, seed: number) => Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff);
/** raw: an Ethernet frame of `len` bytes of the local experimental ethertype 0x88b5, numbered. */
const raw = (len: number, seq: number) => Buffer.from([...MAC_B, ...MAC_A, 0x88, 0xb5, seq >> 8, seq & 0xff, ...bytes(len - 16, seq)]);
/** tagged: `frame` with tags (TPID, TCI pairs) after its MAC addresses. */
const tagged = (frame: Buffer, ...tags: [number, number][]) =>
  Buffer.concat([
    frame.subarray(0, 12),
    ...tags.map(([tpid, tci]) => Buffer.from([tpid >> 8, tpid & 0xff, tci >> 8, tci & 0xff])),
    frame.subarray(12),
  ]);

/** sum16: the ones' complement sum of big-endian 16-bit words (RFC 1071), folded, not complemented. */
function sum16(b: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
/** udp4: an Ethernet/IPv4/UDP frame with correct checksums. */
function udp4(src: number[], dst: number[], sport: number, dport: number, payload: Buffer, macs = [MAC_B, MAC_A]): Buffer {
  const ip = Buffer.alloc(20);
  ip.set([0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, ...src, ...dst]);
  ip.writeUInt16BE(28 + payload.length, 2);
  ip.writeUInt16BE(~sum16(ip) & 0xffff, 10);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const pseudo = Buffer.from([...src, ...dst, 0, 17, (8 + payload.length) >> 8, (8 + payload.length) & 0xff]);
  udp.writeUInt16BE(~sum16(Buffer.concat([pseudo, udp, payload])) & 0xffff || 0xffff, 6);
  return Buffer.concat([Buffer.from([...macs[0], ...macs[1], 0x08, 0x00]), ip, udp, payload]);
}

/** l4Valid: whether an IPv4 frame's TCP/UDP checksum is right, computed here from the bytes. */
function l4Valid(f: Buffer): boolean {
  const ihl = (f[14] & 15) * 4;
  const l4 = f.subarray(14 + ihl, 14 + f.readUInt16BE(16));
  const pseudo = Buffer.from([...f.subarray(26, 34), 0, f[23], l4.length >> 8, l4.length & 0xff]);
  return sum16(Buffer.concat([pseudo, l4])) === 0xffff;
}

function writePcap(path: string, frames: readonly Buffer[]): void {
  const w = new PcapWriter(path);
  frames.forEach((data, i) => w.write({ data, tsSec: 1, tsNsec: i * 1000 }));
  w.close();
}

// ---- the probe ----
interface RxFrame {
  readonly h: number;
  readonly hex: string;
  readonly desc: number[];
  readonly vnet: string;
}
interface RxResult {
  readonly batches: { slotAt: number; frames: RxFrame[] }[];
  readonly stats: HandleStats[];
}
interface Probe {
  readonly ready: Promise<void>;
  readonly done: Promise<unknown>;
  stop(): void;
}

const children = new Set<ChildProcess>();
/** probe runs afpacketProbe in nsB: `ready` once its sockets are open, `done` with its last JSON line (or its stderr as an error). */
function probe(arg: object, ns = nsB): Probe {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, PROBE, JSON.stringify(arg)], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const lines: string[] = [];
  let onReady: () => void;
  const ready = new Promise<void>((res) => (onReady = res));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    if (l === '"ready"') onReady();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const done = new Promise<unknown>((res, rej) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      children.delete(child);
      onReady();
      if (code === 0 && lines.length) {
        try {
          res(JSON.parse(lines[lines.length - 1]));
        } catch (e) {
          rej(e);
        }
      } else rej(new Error(`probe ${JSON.stringify(arg).slice(0, 80)}: exit ${code}: ${stderr.trim()}`));
    }),
  );
  return { ready, done, stop: () => child.stdin!.write('stop\n') };
}

const framesOf = (r: RxResult) => r.batches.flatMap((b) => b.frames);
const replay = (iface: string, pcap: string) => inNs(nsA, ['tcpreplay', '-q', '-i', iface, pcap], 60_000);

/** checkLayout: descriptors and slots exactly as the contract lays them out (rxSlotRoom's rule recomputed here). */
function checkLayout(r: RxResult): void {
  for (const b of r.batches) {
    let at = b.slotAt;
    for (const f of b.frames) {
      const [hardStart, room, len, , tsSec, tsNsec, src, ret] = f.desc;
      assert.equal(hardStart, at, 'slots follow one another from slotAt');
      assert.equal(hardStart % 64, 0);
      assert.equal(room, Math.max(4096, Math.ceil((256 + len + 320) / 64) * 64));
      assert.equal(room, rxSlotRoom(len));
      assert.equal(len, f.hex.length / 2);
      assert.ok(tsSec > 0 && tsNsec < 1e9, `timestamp ${tsSec}.${tsNsec}`);
      assert.deepEqual([src, ret], [0, 0]);
      at += room;
    }
  }
}

describe('live: the AF_PACKET module (native/afpacket.c) alone', function () {
  this.timeout(180_000);
  let dir = '';

  before(function () {
    const why = unavailable();
    if (why) {
      console.log(`  live afpacket: SKIPPED: ${why}`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-afpacket-'));
    for (const ns of [nsA, nsB]) {
      run('ip', ['netns', 'add', ns]);
      inNs(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      inNs(ns, ['ip', 'link', 'set', 'lo', 'up']);
    }
    for (const i of [0, 1, 2]) {
      run('ip', ['link', 'add', `a${i}`, 'netns', nsA, 'type', 'veth', 'peer', 'name', `b${i}`, 'netns', nsB]);
      inNs(nsA, ['ip', 'link', 'set', `a${i}`, 'up']);
      inNs(nsB, ['ip', 'link', 'set', `b${i}`, 'up']);
    }
    inNs(nsA, ['ip', 'addr', 'add', '10.199.2.1/24', 'dev', 'a2']);
    inNs(nsB, ['ip', 'addr', 'add', '10.199.2.2/24', 'dev', 'b2']);
  });

  after(() => {
    for (const c of children) c.kill('SIGKILL');
    for (const ns of [nsA, nsB]) spawnSync('ip', ['netns', 'del', ns]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const plain = [60, 61, 64, 100, 128, 200, 511, 512, 1000, 1499, 1514].map((len, i) => raw(len, i));
  const udp = [0, 1, 2].map((i) => udp4([10, 9, 0, 1], [10, 9, 0, 2], 1000 + i, 53, Buffer.from(bytes(30 + 200 * i, i))));
  const vlan = [tagged(raw(80, 100), [0x8100, 0x2064]), tagged(raw(300, 101), [0x88a8, 0x00c8], [0x8100, 0x0064])];

  for (const version of [2, 3] as const) {
    it(`TPACKET_V${version}: frames sent at a0 arrive byte-exact, in order and number, 802.1Q and 802.1ad tags back in the data`, async () => {
      const sent = [...plain, ...udp, ...vlan];
      const pcap = join(dir, `sent-v${version}.pcap`);
      writePcap(pcap, sent);
      const p = probe({ cmd: 'rx', open: [{ ifname: 'b0', version }], expect: sent.length, deadlineMs: 15_000, maxFrames: 5 });
      await p.ready;
      replay('a0', pcap);
      const r = (await p.done) as RxResult;
      const got = framesOf(r);
      assert.deepEqual(
        got.map((f) => f.hex),
        sent.map((f) => f.toString('hex')),
      );
      assert.ok(r.batches.length >= Math.ceil(sent.length / 5), 'maxFrames bounds each rx call');
      checkLayout(r);
      got.forEach((f) => assert.equal(f.desc[3], f.hex.length / 2, 'WIRE_LEN: the length on the wire, the tag included'));
      got.forEach((f) => assert.equal(f.vnet, '00'.repeat(10), "'off' mode zeroes the virtio_net_hdr at slot + 0"));
      const s = r.stats[0];
      assert.equal(s.rxFrames, sent.length);
      assert.equal(
        s.rxBytes,
        sent.reduce((a, f) => a + f.length, 0),
      );
      assert.equal(s.vlanRestored, vlan.length, 'the kernel stripped the outer tag of both tagged frames; both were put back');
      assert.deepEqual([s.truncated, s.oversized, s.kernelDrops, s.csumCompleted, s.segmented], [0, 0, 0, 0, 0]);
      assert.equal(s.kernelPackets, sent.length);
    });
  }

  it('a frame longer than a ring frame arrives whole, in order (read from the socket queue: PACKET_COPY_THRESH)', async () => {
    const sent = [raw(100, 1), raw(1514, 2), raw(100, 3)];
    const pcap = join(dir, 'trunc.pcap');
    writePcap(pcap, sent);
    const p = probe({ cmd: 'rx', open: [{ ifname: 'b0', frameSize: 1024, ringFrames: 64 }], expect: 3, deadlineMs: 15_000 });
    await p.ready;
    replay('a0', pcap);
    const r = (await p.done) as RxResult;
    assert.deepEqual(
      framesOf(r).map((f) => f.hex),
      sent.map((f) => f.toString('hex')),
    );
    assert.equal(r.stats[0].truncated, 0);
  });

  it('send() from b0: the frames arrive at a0 byte-exact (tcpdump at a0), counted', async function () {
    if (!has('tcpdump')) {
      console.log('    SKIPPED: no tcpdump');
      this.skip();
    }
    const frames = [raw(60, 1), raw(1514, 2), tagged(raw(200, 3), [0x8100, 0x0005]), udp[1]];
    const pcap = join(dir, 'at-a0.pcap');
    const dump = spawn('ip', ['netns', 'exec', nsA, 'tcpdump', '-i', 'a0', '-U', '-n', '-w', pcap, '-c', `${frames.length}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.add(dump);
    const listening = new Promise<void>((res) =>
      createInterface({ input: dump.stderr! }).on('line', (l) => l.includes('listening') && res()),
    );
    const exited = new Promise<void>((res) => dump.on('close', () => res()));
    const killer = setTimeout(() => dump.kill('SIGTERM'), 20_000);
    await Promise.race([listening, exited]);
    const r = (await probe({ cmd: 'send', ifname: 'b0', frames: frames.map((f) => f.toString('hex')) }).done) as {
      sent: number;
      stats: HandleStats;
    };
    await exited;
    clearTimeout(killer);
    children.delete(dump);
    assert.equal(r.sent, frames.length);
    assert.deepEqual([r.stats.txFrames, r.stats.txBytes, r.stats.txErrors], [frames.length, frames.reduce((a, f) => a + f.length, 0), 0]);
    const reader = openCapture(pcap);
    const captured: string[] = [];
    for (let rec = reader.next(); rec; rec = reader.next()) captured.push(Buffer.from(rec.data).toString('hex'));
    reader.close();
    assert.deepEqual(
      captured,
      frames.map((f) => f.toString('hex')),
    );
  });

  it('fanout: two members share b0 disjointly, and both directions of a flow land on the same member index', async () => {
    const flows = Array.from({ length: 32 }, (_, i) => i);
    const fwd = flows.flatMap((i) =>
      [0, 1].map((k) => udp4([10, 1, 0, 1], [10, 2, 0, 2], 10000 + i, 20000, Buffer.from(bytes(20, i * 2 + k)), [MAC_B, MAC_A])),
    );
    const rev = flows.flatMap((i) =>
      [0, 1].map((k) => udp4([10, 2, 0, 2], [10, 1, 0, 1], 20000, 10000 + i, Buffer.from(bytes(20, i * 2 + k)), [MAC_A, MAC_B])),
    );
    writePcap(join(dir, 'fwd.pcap'), fwd);
    writePcap(join(dir, 'rev.pcap'), rev);
    const g1 = 0x1000 + (process.pid & 0xfff);
    const g2 = g1 + 0x1000;
    const p = probe({
      cmd: 'rx',
      open: [
        { ifname: 'b0', fanoutGroup: g1 },
        { ifname: 'b0', fanoutGroup: g1 },
        { ifname: 'b1', fanoutGroup: g2 },
        { ifname: 'b1', fanoutGroup: g2 },
      ],
      expect: fwd.length + rev.length,
      deadlineMs: 15_000,
    });
    await p.ready;
    replay('a0', join(dir, 'fwd.pcap'));
    replay('a1', join(dir, 'rev.pcap'));
    const got = framesOf((await p.done) as RxResult);
    const at = (frame: Buffer, members: number[]) =>
      got.filter((f) => f.hex === frame.toString('hex') && members.includes(f.h)).map((f) => f.h);
    const member = flows.map((i) => {
      const f = [0, 1].map((k) => at(fwd[2 * i + k], [0, 1]));
      const r = [0, 1].map((k) => at(rev[2 * i + k], [2, 3]));
      for (const m of [...f, ...r]) assert.equal(m.length, 1, `flow ${i}: each frame reaches exactly one member of its group`);
      assert.equal(f[0][0], f[1][0], `flow ${i}: one member for the flow`);
      assert.equal(r[0][0] - 2, f[0][0], `flow ${i}: the reverse direction on b1 meets the same member index`);
      return f[0][0];
    });
    assert.equal(got.length, fwd.length + rev.length);
    assert.deepEqual([...new Set(member)].sort(), [0, 1], 'both members got flows');
  });

  it("'off' mode: UDP with partial checksums from nsA's stack arrives with its checksum completed", async () => {
    const p = probe({ cmd: 'rx', open: [{ ifname: 'b2', frameSize: 65536 + 256, ringFrames: 64 }], expect: 1e6, deadlineMs: 30_000 });
    await p.ready;
    const sizes = [1, 100, 1000, 1472, 333];
    const script = `const s=require('dgram').createSocket('udp4');let i=0;const z=${JSON.stringify(sizes)};
      const next=()=>i<z.length?s.send(Buffer.alloc(z[i],i+1),9999,'10.199.2.2',()=>{i++;next()}):s.close();next();`;
    inNs(nsA, [process.execPath, '-e', script]);
    p.stop();
    const r = (await p.done) as RxResult;
    const mine = framesOf(r)
      .map((f) => Buffer.from(f.hex, 'hex'))
      .filter((f) => f.readUInt16BE(12) === 0x0800 && f[23] === 17 && f.readUInt16BE(36) === 9999);
    assert.deepEqual(
      mine.map((f) => f.length - 42),
      sizes,
    );
    mine.forEach((f, i) => {
      assert.ok(l4Valid(f), `datagram ${i}: UDP checksum`);
      assert.ok(f.subarray(42).every((b) => b === i + 1));
    });
    assert.ok(
      r.stats[0].csumCompleted >= sizes.length,
      `csumCompleted ${r.stats[0].csumCompleted}: the checksums were partial (veth tx-checksumming)`,
    );
    if (has('tshark')) {
      const pcap = join(dir, 'udp.pcap');
      writePcap(pcap, mine);
      const st = run('tshark', ['-r', pcap, '-o', 'udp.check_checksum:TRUE', '-T', 'fields', '-e', 'udp.checksum.status']);
      assert.deepEqual(
        st.trim().split('\n'),
        sizes.map(() => '1'),
        'tshark: udp.checksum.status Good',
      );
    }
  });

  // Partial checksums sent with a virtio_net_hdr from a0 (send()'s vnetAt), one in an 802.1Q frame, which the kernel untags on b0.
  const full = [
    udp4([10, 9, 0, 1], [10, 9, 0, 2], 7, 9, Buffer.alloc(101, 3)),
    tagged(udp4([10, 9, 0, 1], [10, 9, 0, 2], 8, 9, Buffer.alloc(64, 4)), [0x8100, 0x0007]),
  ];
  const l2 = [14, 18];
  /** partial: the frame as a sender with checksum offload leaves it: the pseudo-header sum in the UDP checksum field. */
  const partial = full.map((f, i) => {
    const p = Buffer.from(f);
    const udpLen = p.readUInt16BE(l2[i] + 24);
    p.writeUInt16BE(sum16(Buffer.from([...p.subarray(l2[i] + 12, l2[i] + 20), 0, 17, udpLen >> 8, udpLen & 0xff])), l2[i] + 26);
    return p;
  });
  const vnet = (start: number) => Buffer.from([1, 0, 0, 0, 0, 0, start, 0, 6, 0]);
  for (const offloads of ['passthrough', 'off'] as const) {
    it(`'${offloads}': a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM), in a plain and a VLAN frame, ${offloads === 'off' ? 'completed' : 'kept, its virtio_net_hdr at slot + 0 (csum_start moved by 4 for the tag put back)'}`, async () => {
      const p = probe({ cmd: 'rx', open: [{ ifname: 'b0', offloads }], expect: 2, deadlineMs: 15_000 });
      await p.ready;
      const s = (await probe(
        { cmd: 'send', ifname: 'a0', frames: partial.map((f) => f.toString('hex')), vnet: l2.map((n) => vnet(n + 20).toString('hex')) },
        nsA,
      ).done) as {
        sent: number;
      };
      assert.equal(s.sent, 2);
      const r = (await p.done) as RxResult;
      const got = framesOf(r);
      if (offloads === 'off') {
        assert.deepEqual(
          got.map((f) => f.hex),
          full.map((f) => f.toString('hex')),
          'the checksums a NIC would have put in',
        );
        assert.deepEqual(
          got.map((f) => f.vnet),
          ['00'.repeat(10), '00'.repeat(10)],
        );
        assert.equal(r.stats[0].csumCompleted, 2);
      } else {
        assert.deepEqual(
          got.map((f) => f.hex),
          partial.map((f) => f.toString('hex')),
        );
        assert.deepEqual(
          got.map((f) => f.vnet),
          l2.map((n) => vnet(n + 20).toString('hex')),
          'NEEDS_CSUM, csum_start at the UDP header (+4 with the tag back), csum_offset 6',
        );
        assert.equal(r.stats[0].csumCompleted, 0);
      }
      assert.equal(r.stats[0].vlanRestored, 1);
    });
  }

  it("'off' mode: a TCP transfer with TSO at a2 arrives segmented: wire-size frames, contiguous sequence numbers, valid checksums, the bytes sent", async () => {
    const total = 200_000;
    const server = spawn(
      'ip',
      [
        'netns',
        'exec',
        nsB,
        process.execPath,
        '-e',
        `const srv=require('net').createServer(s=>{let n=0;s.on('data',d=>n+=d.length);s.on('end',()=>{console.log(n);s.end();srv.close()})}).listen(5001,'10.199.2.2',()=>console.log('listening'))`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.add(server);
    const serverLines: string[] = [];
    const listening = new Promise<void>((res) =>
      createInterface({ input: server.stdout! }).on('line', (l) => {
        serverLines.push(l);
        if (l === 'listening') res();
      }),
    );
    const serverDone = new Promise<void>((res) => server.on('close', () => res()));
    const killer = setTimeout(() => server.kill('SIGKILL'), 30_000);
    await Promise.race([listening, serverDone]);
    const p = probe({ cmd: 'rx', open: [{ ifname: 'b2', frameSize: 65536 + 256, ringFrames: 128 }], expect: 1e6, deadlineMs: 30_000 });
    await p.ready;
    const data = Buffer.from(bytes(total, 5));
    // the same bytes as `data`, made by the client (too many for an argument)
    const make = `Buffer.from(Array.from({length:${total}},(_,i)=>(i*31+5*7+(i>>8))&0xff))`;
    const client = `const c=require('net').connect(5001,'10.199.2.2',()=>c.end(${make}));c.on('data',()=>{})`;
    inNs(nsA, [process.execPath, '-e', client], 30_000);
    await serverDone;
    clearTimeout(killer);
    children.delete(server);
    assert.equal(serverLines[1], `${total}`, 'the server in nsB received every byte');
    p.stop();
    const r = (await p.done) as RxResult;
    const segs = framesOf(r)
      .map((f) => Buffer.from(f.hex, 'hex'))
      .filter((f) => f.readUInt16BE(12) === 0x0800 && f[23] === 6 && f.readUInt16BE(36) === 5001);
    const syn = segs.find((f) => f[47] & 0x02);
    assert.ok(syn, 'the SYN was seen');
    const isn = syn.readUInt32BE(38);
    const byOffset = new Map<number, Buffer>();
    for (const f of segs) {
      assert.ok(f.length <= 1514, `a ${f.length}-byte frame: longer than the MTU`);
      assert.ok(l4Valid(f), 'TCP checksum');
      const ipLen = f.readUInt16BE(16);
      assert.equal(ipLen, f.length - 14, 'IPv4 total length');
      assert.equal(sum16(f.subarray(14, 14 + (f[14] & 15) * 4)), 0xffff, 'IPv4 header checksum');
      const payload = f.subarray(14 + (f[14] & 15) * 4 + (f[46] >> 4) * 4);
      if (payload.length) byOffset.set((f.readUInt32BE(38) - isn - 1) >>> 0, payload);
    }
    let at = 0;
    const parts: Buffer[] = [];
    for (const off of [...byOffset.keys()].sort((a, b) => a - b)) {
      assert.equal(off, at, `the sequence numbers are contiguous at byte ${at}`);
      parts.push(byOffset.get(off)!);
      at += byOffset.get(off)!.length;
    }
    assert.ok(Buffer.concat(parts).equals(data), 'the payloads, in sequence order, are the bytes sent');
    assert.ok(r.stats[0].segmented > 0, 'GSO frames arrived (TSO on a2) and were split');
    if (has('tshark')) {
      const pcap = join(dir, 'tcp.pcap');
      writePcap(pcap, segs);
      const st = run('tshark', ['-r', pcap, '-o', 'tcp.check_checksum:TRUE', '-T', 'fields', '-e', 'tcp.checksum.status']);
      assert.deepEqual(new Set(st.trim().split('\n')), new Set(['1']), 'tshark: tcp.checksum.status Good for every frame');
    }
  });

  it("'off' mode: GSO frames sent with a virtio_net_hdr (TCPV6; UDP_L4 over IPv4 in an 802.1Q frame) arrive as the segments a NIC would send", async () => {
    const src6 = Array.from({ length: 16 }, (_, i) => (i === 0 ? 0xfd : i));
    const dst6 = Array.from({ length: 16 }, (_, i) => (i === 0 ? 0xfd : 0x20 + i));
    const payload6 = Buffer.from(bytes(2500, 6));
    const tcp = Buffer.alloc(20);
    tcp.writeUInt16BE(4000, 0);
    tcp.writeUInt16BE(80, 2);
    tcp.writeUInt32BE(0xfffffc00, 4); // the sequence number wraps in the second segment
    tcp.writeUInt32BE(77, 8);
    tcp.set([0x50, 0x99], 12); // CWR ACK PSH FIN
    tcp.writeUInt16BE(512, 14);
    const ip6 = (plen: number) => Buffer.from([0x60, 0, 0, 0, plen >> 8, plen & 0xff, 6, 64, ...src6, ...dst6]);
    const eth6 = Buffer.from([...MAC_B, ...MAC_A, 0x86, 0xdd]);
    const gso6 = Buffer.concat([eth6, ip6(20 + payload6.length), tcp, payload6]);
    const want6 = [0, 1, 2].map((k) => {
      const seg = payload6.subarray(k * 1000, k * 1000 + 1000);
      const t = Buffer.from(tcp);
      t.writeUInt32BE((0xfffffc00 + k * 1000) >>> 0, 4);
      t[13] = [0x90, 0x10, 0x19][k];
      const pseudo = Buffer.from([...src6, ...dst6, 0, 0, (20 + seg.length) >> 8, (20 + seg.length) & 0xff, 0, 0, 0, 6]);
      t.writeUInt16BE(~sum16(Buffer.concat([pseudo, t, seg])) & 0xffff, 16);
      return Buffer.concat([eth6, ip6(20 + seg.length), t, seg]);
    });
    const payload4 = Buffer.from(bytes(1100, 4));
    const udpGso = tagged(udp4([10, 9, 0, 1], [10, 9, 0, 2], 5000, 6000, payload4), [0x8100, 0x0009]);
    udpGso.writeUInt16BE(0x1234, 18 + 4); // IPv4 id
    const want4 = [0, 1, 2].map((k) => {
      const f = udp4([10, 9, 0, 1], [10, 9, 0, 2], 5000, 6000, payload4.subarray(k * 500, k * 500 + 500));
      f.writeUInt16BE(0x1234 + k, 18);
      f.writeUInt16BE(0, 24);
      f.writeUInt16BE(~sum16(f.subarray(14, 34)) & 0xffff, 24);
      return tagged(f, [0x8100, 0x0009]);
    });
    const hdr = (type: number, hdrLen: number, gsoSize: number, start: number, off: number) => {
      const h = Buffer.alloc(10);
      h[0] = 1; // VIRTIO_NET_HDR_F_NEEDS_CSUM
      h[1] = type;
      h.writeUInt16LE(hdrLen, 2);
      h.writeUInt16LE(gsoSize, 4);
      h.writeUInt16LE(start, 6);
      h.writeUInt16LE(off, 8);
      return h.toString('hex');
    };
    const p = probe({ cmd: 'rx', open: [{ ifname: 'b0', frameSize: 65536 + 256, ringFrames: 16 }], expect: 6, deadlineMs: 15_000 });
    await p.ready;
    const sent = (await probe(
      {
        cmd: 'send',
        ifname: 'a0',
        frames: [gso6, udpGso].map((f) => f.toString('hex')),
        vnet: [hdr(4, 74, 1000, 54, 16), hdr(5, 46, 500, 38, 6)],
      },
      nsA,
    ).done) as { sent: number };
    assert.equal(sent.sent, 2);
    const r = (await p.done) as RxResult;
    assert.deepEqual(
      framesOf(r).map((f) => f.hex),
      [...want6, ...want4].map((f) => f.toString('hex')),
    );
    framesOf(r).forEach((f) => assert.equal(f.desc[3], f.hex.length / 2, 'WIRE_LEN: the segment'));
    checkLayout(r);
    assert.deepEqual([r.stats[0].segmented, r.stats[0].rxFrames, r.stats[0].vlanRestored], [6, 6, 1]);
  });

  it('without CAP_NET_RAW, livePermission says what is needed', function () {
    if (!has('setpriv')) {
      console.log('    SKIPPED: no setpriv (util-linux)');
      this.skip();
    }
    const native = join(REPO_ROOT, 'dist', 'appliance', 'live', 'native.js');
    const script = `import(${JSON.stringify(native)}).then((m)=>{try{m.livePermission();console.log('permitted')}catch(e){console.log(e.name+': '+e.message)}})`;
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, '-e', script],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout.trim(),
      'LiveUnavailable: live capture: needs root or CAP_NET_RAW (setcap cap_net_raw,cap_net_admin+ep $(which node)), to open AF_PACKET sockets',
    );
  });

  it('bad input: no such interface, addresses past the memory, a closed handle: errors naming them, nothing sent', async () => {
    const r = (await probe({ cmd: 'bad', ifname: 'b0' }).done) as Record<
      string,
      { name: string; code: string; errno: number; message: string }
    > &
      Record<'statsOpen', HandleStats> &
      Record<'ifindex', number>;
    assert.deepEqual([r.openNope.code, r.openNope.errno, r.openNope.message], ['ENODEV', 19, 'open nope0: no such device (ENODEV)']);
    assert.deepEqual([r.ifindexNope.code, r.ifindexNope.message], ['ENODEV', 'ifindex nope0: no such device (ENODEV)']);
    assert.equal(r.ifindex, Number(inNs(nsB, ['cat', '/sys/class/net/b0/ifindex']).trim()));
    for (const k of ['rxDescPast', 'rxSlotsPast', 'sendPast', 'sendVnetPast', 'sendCountPast']) assert.equal(r[k]?.name, 'RangeError', k);
    assert.equal(r.statsOpen.txFrames, 0, 'a list with a bad address sends nothing');
    assert.deepEqual([r.statsClosed.code, r.closeClosed.code], ['EBADF', 'EBADF']);
    assert.match(r.statsClosed.message, /^stats handle \d+: bad file descriptor \(EBADF\)$/);
    assert.deepEqual([r.badVersion.code, r.badVersion.message], ['EINVAL', 'open b0: invalid argument (EINVAL)']);
  });
});
