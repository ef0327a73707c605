import { openCapture } from '../../pcaps/open.js';
import { PcapWriter } from '../../pcaps/pcapWriter.js';
import { LinkType } from '../../pcaps/linkType.js';

/** LoopbackFlavor: how a BSD loopback capture stores its 4-byte address family. */
export interface LoopbackFlavor {
  readonly linkType: typeof LinkType.LINKTYPE_NULL | typeof LinkType.LINKTYPE_LOOP;
  /** Byte order of the family field. */
  readonly littleEndian: boolean;
  /** AF_INET6 as the capturing system numbers it (24, 28 or 30). */
  readonly inet6: number;
}

/**
 * writeLoopbackCapture turns the IPv4 and IPv6 frames of an Ethernet capture into a BSD
 * loopback capture (the Ethernet header replaced by the address family), as macOS or a BSD
 * would have captured them on lo0; it returns how many packets it wrote.
 */
export function writeLoopbackCapture(from: string, to: string, f: LoopbackFlavor): number {
  const r = openCapture(from);
  const w = new PcapWriter(to, { nanosecond: true, linkType: f.linkType });
  try {
    for (let p = r.next(); p; p = r.next()) {
      const type = p.data.length >= 14 ? (p.data[12] << 8) | p.data[13] : 0;
      if (type !== 0x0800 && type !== 0x86dd) continue;
      const data = Buffer.alloc(4 + p.data.length - 14);
      const family = type === 0x0800 ? 2 : f.inet6;
      if (f.littleEndian) data.writeUInt32LE(family, 0);
      else data.writeUInt32BE(family, 0);
      data.set(p.data.subarray(14), 4);
      w.write({ data, tsSec: p.tsSec, tsNsec: p.tsNsec, origLen: p.origLen - 10 });
    }
  } finally {
    r.close();
    w.close();
  }
  return w.packets;
}
