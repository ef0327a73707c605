import { PcapWriter } from './pcapWriter.js';
import { PcapngWriter } from './pcapngWriter.js';

/**
 * synth: deterministic synthetic traffic for samples and benchmarks. A seeded generator
 * draws packets from a fixed set of flows: TCP and UDP over IPv4 and IPv6, ICMP echo and
 * ARP, with valid IPv4 header and L4 checksums, 60 to 1514 bytes (or all 64 bytes).
 */
export interface SynthOptions {
  readonly packets: number;
  /** 'mixed': the protocol and size mix above; 'small': 64-byte UDP/IPv4 frames. */
  readonly mix?: 'mixed' | 'small';
  readonly seed?: number;
  readonly flows?: number;
  /** First timestamp (seconds since the epoch); packets follow 1 to 20 µs apart. */
  readonly startSec?: number;
}

type Kind = 'tcp4' | 'udp4' | 'icmp4' | 'tcp6' | 'udp6' | 'arp';
interface Flow {
  kind: Kind;
  src: number;
  dst: number;
  sport: number;
  dport: number;
  mac: number;
}

/** Xorshift32: the generator (seedable, the same sequence on every machine). */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

/** synthPackets yields the packets with their timestamps; the buffer is reused per packet. */
export function* synthPackets(o: SynthOptions): Generator<{ data: Uint8Array; tsSec: number; tsNsec: number }> {
  const rnd = xorshift32(o.seed ?? 1);
  const flows: Flow[] = [];
  const kinds: Kind[] =
    o.mix === 'small' ? ['udp4'] : ['tcp4', 'tcp4', 'tcp4', 'tcp4', 'udp4', 'udp4', 'udp4', 'icmp4', 'tcp6', 'udp6', 'arp'];
  for (let i = 0; i < (o.flows ?? 1024); i++) {
    flows.push({
      kind: kinds[rnd() % kinds.length],
      src: 0x0a000000 | (rnd() & 0xffffff),
      dst: 0xc0a80000 | (rnd() & 0xffff),
      sport: 1024 + (rnd() % 60000),
      dport: [53, 80, 443, 123, 22, 8080][rnd() % 6],
      mac: rnd(),
    });
  }
  const buf = new Uint8Array(1514);
  let ns = 0;
  const start = o.startSec ?? 1_767_225_600; // 2026-01-01T00:00:00Z
  for (let i = 0; i < o.packets; i++) {
    // a few heavy flows and a long tail
    const f = flows[rnd() % 8 < 3 ? rnd() % 16 : rnd() % flows.length];
    const r = rnd() % 100;
    const size = o.mix === 'small' ? 64 : r < 40 ? 64 : r < 60 ? 1514 : 60 + (rnd() % 1455);
    const len = build(buf, f, size, i);
    ns += 1000 + (rnd() % 19000);
    yield { data: buf.subarray(0, len), tsSec: start + Math.floor(ns / 1e9), tsNsec: ns % 1e9 };
  }
}

function build(b: Uint8Array, f: Flow, size: number, seq: number): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  b.fill(0, 0, size);
  b.set([0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x01, f.mac >>> 24, (f.mac >>> 16) & 0xff, (f.mac >>> 8) & 0xff, f.mac & 0xff]);
  if (f.kind === 'arp') {
    b.fill(0xff, 0, 6);
    dv.setUint16(12, 0x0806);
    b.set([0, 1, 8, 0, 6, 4, 0, 1], 14);
    b.set(b.subarray(6, 12), 22);
    dv.setUint32(28, f.src);
    dv.setUint32(38, f.dst);
    return 60;
  }
  const v6 = f.kind === 'tcp6' || f.kind === 'udp6';
  const proto = f.kind.startsWith('tcp') ? 6 : f.kind.startsWith('udp') ? 17 : 1;
  const l3 = 14;
  const l4 = l3 + (v6 ? 40 : 20);
  const minL4 = proto === 6 ? 20 : 8;
  size = Math.max(size, l4 + minL4, 60);
  b.fill(0, 14, size);
  const l4len = size - l4;
  for (let i = l4 + minL4; i < size; i++) b[i] = (i * 7 + seq) & 0xff;
  if (v6) {
    dv.setUint16(12, 0x86dd);
    dv.setUint32(l3, 0x60000000);
    dv.setUint16(l3 + 4, l4len);
    b[l3 + 6] = proto;
    b[l3 + 7] = 64;
    b.set([0x20, 0x01, 0x0d, 0xb8], l3 + 8);
    dv.setUint32(l3 + 20, f.src);
    b.set([0x20, 0x01, 0x0d, 0xb8], l3 + 24);
    dv.setUint32(l3 + 36, f.dst);
  } else {
    dv.setUint16(12, 0x0800);
    b[l3] = 0x45;
    dv.setUint16(l3 + 2, size - l3);
    dv.setUint16(l3 + 4, seq & 0xffff);
    dv.setUint16(l3 + 6, 0x4000);
    b[l3 + 8] = 64;
    b[l3 + 9] = proto;
    dv.setUint32(l3 + 12, f.src);
    dv.setUint32(l3 + 16, f.dst);
    dv.setUint16(l3 + 10, checksum(b, l3, 20, 0));
  }
  if (proto === 1) {
    b[l4] = 8; // echo request
    dv.setUint16(l4 + 4, f.sport);
    dv.setUint16(l4 + 6, seq & 0xffff);
    dv.setUint16(l4 + 2, checksum(b, l4, l4len, 0));
    return size;
  }
  dv.setUint16(l4, f.sport);
  dv.setUint16(l4 + 2, f.dport);
  if (proto === 17) dv.setUint16(l4 + 4, l4len);
  else {
    dv.setUint32(l4 + 4, seq);
    b[l4 + 12] = 0x50;
    b[l4 + 13] = 0x18; // PSH ACK
    dv.setUint16(l4 + 14, 65535);
  }
  // pseudo header: addresses, protocol, length
  let pseudo = proto + l4len;
  const a = v6 ? l3 + 8 : l3 + 12;
  for (let i = 0; i < (v6 ? 32 : 8); i += 2) pseudo += dv.getUint16(a + i);
  const c = checksum(b, l4, l4len, pseudo);
  dv.setUint16(l4 + (proto === 6 ? 16 : 6), proto === 17 && c === 0 ? 0xffff : c);
  return size;
}

/** checksum: the Internet checksum (RFC 1071) of b[off, off+len) plus `initial`. */
export function checksum(b: Uint8Array, off: number, len: number, initial: number): number {
  let s = initial;
  for (let i = 0; i + 1 < len; i += 2) s += (b[off + i] << 8) | b[off + i + 1];
  if (len & 1) s += b[off + len - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

/** writeSynthCapture writes the synthetic packets to a pcap or pcapng file. */
export function writeSynthCapture(path: string, o: SynthOptions & { format?: 'pcap' | 'pcapng' }): void {
  const w = o.format === 'pcapng' ? new PcapngWriter(path) : new PcapWriter(path);
  for (const p of synthPackets(o)) w.write(p);
  w.close();
}
