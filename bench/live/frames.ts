import { writeFileSync } from 'node:fs';
import { PcapWriter } from '../../pcaps/pcapWriter.js';
import { checksum } from '../../pcaps/synth.js';

/** FrameSpec: the addresses of the bench's UDP frames (a0 to c0 on the live topology). */
export interface FrameSpec {
  readonly srcMac: string;
  readonly dstMac: string;
  readonly srcIp: string;
  readonly dstIp: string;
}

/**
 * udpFrames builds `flows` UDP/IPv4 frames of `size` bytes (Ethernet header included, no FCS),
 * one per source port (10000 + i, to port 9), with valid IPv4 and UDP checksums: the offered
 * traffic of the live bench. Distinct ports spread the flows over a PACKET_FANOUT_HASH group.
 *
 *   0      6      12   14         34     42          size
 *   | dst  | src  |0800| IPv4 (20) | UDP  | zeros ... |
 */
export function udpFrames(size: number, flows: number, spec: FrameSpec): Uint8Array[] {
  if (size < 42 || size > 1514) throw new Error(`udpFrames: size ${size} is outside 42..1514`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < flows; i++) {
    const b = new Uint8Array(size);
    const dv = new DataView(b.buffer);
    b.set(mac(spec.dstMac), 0);
    b.set(mac(spec.srcMac), 6);
    dv.setUint16(12, 0x0800);
    const ipLen = size - 14;
    b[14] = 0x45;
    dv.setUint16(16, ipLen);
    dv.setUint16(18, i); // identification
    dv.setUint16(20, 0x4000); // DF
    b[22] = 64; // TTL
    b[23] = 17; // UDP
    b.set(ipv4(spec.srcIp), 26);
    b.set(ipv4(spec.dstIp), 30);
    dv.setUint16(24, checksum(b, 14, 20, 0));
    const udpLen = ipLen - 20;
    dv.setUint16(34, 10000 + i);
    dv.setUint16(36, 9); // discard
    dv.setUint16(38, udpLen);
    const pseudo = sum16(b, 26, 8) + 17 + udpLen;
    const c = checksum(b, 34, udpLen, pseudo);
    dv.setUint16(40, c === 0 ? 0xffff : c);
    out.push(b);
  }
  return out;
}

/** trafgenConfig writes the frames as a trafgen packet configuration (plain bytes, no macros: run without --cpp). */
export function trafgenConfig(file: string, frames: readonly Uint8Array[]): void {
  const hex = (b: Uint8Array) => Array.from(b, (x) => `0x${x.toString(16).padStart(2, '0')}`).join(',');
  writeFileSync(file, frames.map((f) => `{ ${hex(f)} }\n`).join(''));
}

/** framesPcap writes the frames, `repeat` times over, as a pcap for tcpreplay (1 µs apart). */
export function framesPcap(file: string, frames: readonly Uint8Array[], repeat: number): void {
  const w = new PcapWriter(file);
  for (let r = 0, n = 0; r < repeat; r++)
    for (const data of frames) {
      w.write({ data, tsSec: Math.floor(n / 1e6), tsNsec: (n % 1e6) * 1000 });
      n++;
    }
  w.close();
}

const mac = (s: string): number[] => s.split(':').map((x) => parseInt(x, 16));
const ipv4 = (s: string): number[] => s.split('.').map(Number);
const sum16 = (b: Uint8Array, off: number, len: number): number => {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | b[off + i + 1];
  return s;
};
