/**
 * A classic pcap (little-endian, microsecond timestamps, Ethernet) written and read here byte by
 * byte, apart from pcaps/: tests that check replay's output against it do not check bpfbox's
 * readers and writers against themselves.
 */

/** handPcap: the bytes of a pcap of `frames`, one second apart from t=1. */
export function handPcap(frames: readonly Buffer[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(1, 20);
  return Buffer.concat([
    head,
    ...frames.flatMap((f, i) => {
      const r = Buffer.alloc(16);
      r.writeUInt32LE(i + 1, 0);
      r.writeUInt32LE(f.length, 8);
      r.writeUInt32LE(f.length, 12);
      return [r, f];
    }),
  ]);
}

/** handFrames: the frames of a classic pcap's bytes. */
export function handFrames(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 24; o + 16 <= b.length; o += 16 + b.readUInt32LE(o + 8)) out.push(b.subarray(o + 16, o + 16 + b.readUInt32LE(o + 8)));
  return out;
}
