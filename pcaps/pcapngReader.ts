import { FileBytes } from './fileBytes.js';
import { CaptureError, type CaptureReader, MAX_RECORD, RecordView } from './record.js';

/** pcapng block types (draft-ietf-opsawg-pcapng). */
export const Block = { SHB: 0x0a0d0d0a, IDB: 1, OPB: 2, SPB: 3, NRB: 4, ISB: 5, EPB: 6, DSB: 10 } as const;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** The longest block bpfbox reads: a largest packet and 64 KiB of options. */
const MAX_BLOCK = MAX_RECORD + 65536;

/** Interface is what an IDB says about the packets that name it. */
export interface PcapngInterface {
  readonly linkType: number;
  readonly snapLen: number;
  /** Timestamp units: 10^-n (decimal) or 2^-n (binary) seconds. */
  readonly tsDecimal: boolean;
  readonly tsExponent: number;
  /** if_tsoffset: seconds added to every timestamp. */
  readonly tsOffset: number;
  readonly name?: string;
}

/** PcapngRecord: a record with the EPB options bpfbox reads back (verdicts, comments, flags). */
export class PcapngRecord extends RecordView {
  /** epb_verdict values (type byte then the verdict) when the reader was asked for options. */
  verdicts?: Uint8Array[];
  comments?: string[];
  /** epb_queue, when the reader was asked for options. */
  queue?: number;
}

/**
 * PcapngReader streams a pcapng file: sections of either byte order, any number of
 * interfaces (each with its link type, snap length and timestamp resolution), EPB, SPB and
 * the obsolete OPB packet blocks; other blocks are skipped, as the format says.
 */
export class PcapngReader implements CaptureReader {
  readonly format = 'pcapng' as const;
  readonly path: string;
  readonly warnings: string[] = [];
  /** Interfaces of the current section. */
  interfaces: PcapngInterface[] = [];
  sections = 0;
  readonly #in: FileBytes;
  #le = true;
  #index = 0;
  #done = false;
  readonly #readOptions: boolean;
  readonly #rec = new PcapngRecord(1);

  constructor(path: string, options: { readOptions?: boolean; bytes?: FileBytes } = {}) {
    this.path = path;
    this.#in = options.bytes ?? new FileBytes(path);
    this.#readOptions = options.readOptions ?? false;
    const f = this.#in;
    if (!f.need(12) || f.buf.readUInt32LE(f.at) !== Block.SHB)
      throw new CaptureError(path, 0, 'not a pcapng file: it does not start with a section header block');
  }

  get bytes(): FileBytes {
    return this.#in;
  }

  get size(): number {
    return this.#in.size;
  }

  get position(): number {
    return this.#in.offset;
  }

  next(): PcapngRecord | null {
    while (!this.#done) {
      const f = this.#in;
      const offset = f.offset;
      if (!f.need(8)) {
        if (f.full) return null;
        if (f.buffered > 0) this.#cut(offset, 'a block header');
        return this.#end();
      }
      let type = this.#u32(0);
      if (f.buf.readUInt32LE(f.at) === Block.SHB) {
        type = Block.SHB;
        if (!f.need(12)) {
          if (f.full) return null;
          return (this.#cut(offset, "a section header's byte-order magic"), this.#end());
        }
        const bom = f.buf.readUInt32LE(f.at + 8);
        if (bom === BYTE_ORDER_MAGIC) this.#le = true;
        else if (f.buf.readUInt32BE(f.at + 8) === BYTE_ORDER_MAGIC) this.#le = false;
        else
          throw new CaptureError(
            this.path,
            offset + 8,
            `section header: byte-order magic 0x${bom.toString(16)} is neither 0x1a2b3c4d nor its swap`,
          );
      }
      const len = this.#u32(4);
      const what = `block ${blockName(type)}`;
      if (len < 12 || len % 4 !== 0)
        throw new CaptureError(this.path, offset, `${what}: total length ${len} (at least 12, a multiple of 4)`);
      if (len > MAX_BLOCK)
        throw new CaptureError(
          this.path,
          offset,
          `${what}: total length ${len} is larger than ${MAX_BLOCK} bytes (a corrupt block header?)`,
        );
      if (!f.need(len)) {
        if (f.full) return null;
        return (this.#cut(offset, `the ${len} bytes of a ${blockName(type)} block`), this.#end());
      }
      if (this.#u32(len - 4) !== len)
        throw new CaptureError(this.path, offset, `${what}: trailing length ${this.#u32(len - 4)} differs from the leading ${len}`);
      const rec = this.#block(type, len, offset);
      f.at += len;
      if (rec) return rec;
    }
    return null;
  }

  #block(type: number, len: number, offset: number): PcapngRecord | null {
    switch (type) {
      case Block.SHB: {
        const major = this.#u16(12);
        if (major !== 1)
          throw new CaptureError(this.path, offset + 12, `section header: pcapng version ${major}.${this.#u16(14)} (only 1.x is defined)`);
        this.interfaces = [];
        this.sections++;
        return null;
      }
      case Block.IDB:
        return (this.#idb(len, offset), null);
      case Block.EPB:
        return this.#packet(offset, len, this.#u32(8), 28, this.#u32(20), this.#u32(24), this.#u32(12), this.#u32(16));
      case Block.OPB:
        return this.#packet(offset, len, this.#u16(8), 28, this.#u32(20), this.#u32(24), this.#u32(12), this.#u32(16));
      case Block.SPB: {
        const iface = this.#iface(0, offset);
        const orig = this.#u32(8);
        const cap = Math.min(orig, iface.snapLen || orig, len - 16);
        return this.#packet(offset, len, 0, 12, cap, orig, -1, -1);
      }
      default:
        return null; // NRB, ISB, DSB, custom and unknown blocks: nothing a replay needs
    }
  }

  #idb(len: number, offset: number): void {
    const iface: { -readonly [K in keyof PcapngInterface]: PcapngInterface[K] } = {
      linkType: this.#u16(8),
      snapLen: this.#u32(12),
      tsDecimal: true,
      tsExponent: 6,
      tsOffset: 0,
    };
    this.#options(16, len - 4, offset, (code, at, n) => {
      const b = this.#in.buf;
      if (code === 9 && n >= 1) {
        iface.tsDecimal = (b[at] & 0x80) === 0;
        iface.tsExponent = b[at] & 0x7f;
        if ((iface.tsDecimal && iface.tsExponent > 15) || iface.tsExponent > 60)
          throw new CaptureError(
            this.path,
            offset,
            `interface ${this.interfaces.length}: if_tsresol 0x${b[at].toString(16)} is out of range`,
          );
      } else if (code === 14 && n >= 8) {
        iface.tsOffset = Number(this.#le ? b.readBigInt64LE(at) : b.readBigInt64BE(at));
      } else if (code === 2) {
        iface.name = b.toString('utf8', at, at + n);
      }
    });
    this.interfaces.push(iface);
  }

  #packet(
    offset: number,
    len: number,
    ifIndex: number,
    dataAt: number,
    caplen: number,
    origLen: number,
    tsHigh: number,
    tsLow: number,
  ): PcapngRecord {
    const name = `record ${this.#index}`;
    const iface = this.#iface(ifIndex, offset);
    if (caplen > MAX_RECORD)
      throw new CaptureError(this.path, offset, `${name}: captured length ${caplen} is larger than ${MAX_RECORD} bytes`);
    if (iface.snapLen > 0 && caplen > iface.snapLen)
      throw new CaptureError(
        this.path,
        offset,
        `${name}: captured length ${caplen} is larger than interface ${ifIndex}'s snap length ${iface.snapLen}`,
      );
    const dataEnd = dataAt + caplen;
    if (dataEnd > len - 4)
      throw new CaptureError(this.path, offset, `${name}: captured length ${caplen} does not fit in its ${len}-byte block`);
    const f = this.#in;
    const r = this.#rec;
    r.set(f.u8, f.at + dataAt, caplen);
    r.origLen = Math.max(origLen, caplen);
    r.linkType = iface.linkType;
    r.ifIndex = ifIndex;
    r.offset = offset;
    r.index = this.#index++;
    if (tsHigh < 0) ((r.tsSec = 0), (r.tsNsec = 0));
    else this.#timestamp(iface, tsHigh, tsLow);
    if (this.#readOptions) {
      r.verdicts = [];
      r.comments = [];
      r.queue = undefined;
      this.#options((dataEnd + 3) & ~3, len - 4, offset, (code, at, n) => {
        if (code === 7) r.verdicts!.push(f.buf.slice(at, at + n));
        if (code === 1) r.comments!.push(f.buf.toString('utf8', at, at + n));
        if (code === 6 && n === 4) r.queue = this.#le ? f.buf.readUInt32LE(at) : f.buf.readUInt32BE(at);
      });
    }
    return r;
  }

  #timestamp(iface: PcapngInterface, high: number, low: number): void {
    const r = this.#rec;
    const ts = high * 0x1_0000_0000 + low;
    if (iface.tsDecimal && iface.tsExponent <= 9 && ts <= Number.MAX_SAFE_INTEGER) {
      const unit = 10 ** iface.tsExponent;
      r.tsSec = Math.floor(ts / unit) + iface.tsOffset;
      r.tsNsec = (ts % unit) * 10 ** (9 - iface.tsExponent);
      return;
    }
    const t = (BigInt(high) << 32n) | BigInt(low);
    const unit = iface.tsDecimal ? 10n ** BigInt(iface.tsExponent) : 1n << BigInt(iface.tsExponent);
    // whole seconds past 2^63 wrap to negative, as Wireshark's wiretap keeps them (a signed time_t)
    r.tsSec = Number(BigInt.asIntN(64, t / unit)) + iface.tsOffset;
    r.tsNsec = Number(((t % unit) * 1_000_000_000n) / unit);
  }

  #iface(i: number, offset: number): PcapngInterface {
    const iface = this.interfaces[i];
    if (!iface)
      throw new CaptureError(
        this.path,
        offset,
        `record ${this.#index}: interface ${i} was not described by an interface description block in this section (${this.interfaces.length} were)`,
      );
    return iface;
  }

  /** #options walks the options between block offsets `from` and `to`. */
  #options(from: number, to: number, offset: number, each: (code: number, at: number, len: number) => void): void {
    let o = from;
    while (o + 4 <= to) {
      const code = this.#u16(o);
      const n = this.#u16(o + 2);
      if (code === 0) return;
      if (o + 4 + n > to) throw new CaptureError(this.path, offset + o, `option ${code} of ${n} bytes runs past the end of its block`);
      each(code, this.#in.at + o + 4, n);
      o += 4 + ((n + 3) & ~3);
    }
  }

  #u32(o: number): number {
    const f = this.#in;
    return this.#le ? f.buf.readUInt32LE(f.at + o) : f.buf.readUInt32BE(f.at + o);
  }

  #u16(o: number): number {
    const f = this.#in;
    return this.#le ? f.buf.readUInt16LE(f.at + o) : f.buf.readUInt16BE(f.at + o);
  }

  #cut(offset: number, what: string): void {
    this.warnings.push(
      `${this.path}: offset ${offset}: the file ends inside ${what} (record ${this.#index} and after are cut off); the ${this.#index} complete records before it were read`,
    );
  }

  #end(): null {
    this.#done = true;
    return null;
  }

  close(): void {
    this.#in.close();
  }
}

function blockName(type: number): string {
  const n = Object.entries(Block).find(([, v]) => v === type)?.[0];
  return n ?? `type 0x${type.toString(16)}`;
}
