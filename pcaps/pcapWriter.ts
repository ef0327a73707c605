import { FileOut } from './fileOut.js';
import { PCAP_MAGIC_NS, PCAP_MAGIC_US } from './pcapReader.js';
import { LinkType } from './linkType.js';
import { MAX_RECORD } from './record.js';

/** PacketOut: what a writer needs of a packet. */
export interface PacketOut {
  readonly data: Uint8Array;
  readonly origLen?: number;
  readonly tsSec: number;
  readonly tsNsec: number;
}

/** PcapWriter writes a classic pcap file (little-endian, version 2.4, microsecond or nanosecond timestamps). */
export class PcapWriter {
  readonly #out: FileOut;
  readonly #ns: boolean;
  packets = 0;

  constructor(path: string, options: { nanosecond?: boolean; linkType?: number; snapLen?: number } = {}) {
    this.#out = new FileOut(path);
    this.#ns = options.nanosecond ?? false;
    const { buf, at } = this.#out.reserve(24);
    buf.writeUInt32LE(this.#ns ? PCAP_MAGIC_NS : PCAP_MAGIC_US, at);
    buf.writeUInt16LE(2, at + 4);
    buf.writeUInt16LE(4, at + 6);
    buf.writeInt32LE(0, at + 8);
    buf.writeUInt32LE(0, at + 12);
    buf.writeUInt32LE(options.snapLen ?? MAX_RECORD, at + 16);
    buf.writeUInt32LE(options.linkType ?? LinkType.LINKTYPE_ETHERNET, at + 20);
    this.#out.commit(24);
  }

  write(p: PacketOut): void {
    const n = p.data.length;
    const { buf, at } = this.#out.reserve(16 + n);
    buf.writeUInt32LE(p.tsSec >>> 0, at);
    buf.writeUInt32LE(this.#ns ? p.tsNsec : Math.floor(p.tsNsec / 1000), at + 4);
    buf.writeUInt32LE(n, at + 8);
    buf.writeUInt32LE(Math.max(n, p.origLen ?? n), at + 12);
    buf.set(p.data, at + 16);
    this.#out.commit(16 + n);
    this.packets++;
  }

  close(): void {
    this.#out.close();
  }
}
