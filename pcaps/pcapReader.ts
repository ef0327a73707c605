import { FileBytes } from './fileBytes.js';
import { CaptureError, type CaptureReader, type CaptureRecord, MAX_RECORD, RecordView } from './record.js';

/** Classic pcap magic numbers (as read in the file's own byte order). */
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
const FILE_HEADER = 24;
/** Numbers per record from `PcapReader.scan`: at, caplen, origLen, tsSec, tsNsec. */
export const SCAN_FIELDS = 5;
const RECORD_HEADER = 16;

/**
 * PcapReader streams a classic libpcap file: either byte order, microsecond or nanosecond
 * timestamps (the magic says which). The link type's upper bits (FCS length) are ignored.
 */
export class PcapReader implements CaptureReader {
  readonly format = 'pcap' as const;
  readonly path: string;
  readonly warnings: string[] = [];
  readonly linkType: number;
  readonly snapLen: number;
  readonly nanosecond: boolean;
  readonly littleEndian: boolean;
  readonly version: string;
  readonly #in: FileBytes;
  #index = 0;
  #done = false;
  readonly #rec: RecordView;

  constructor(path: string, bytes?: FileBytes) {
    this.path = path;
    const f = (this.#in = bytes ?? new FileBytes(path));
    if (!f.need(FILE_HEADER)) throw new CaptureError(path, 0, `${f.buffered} bytes: too short for a pcap file header (24 bytes)`);
    const b = f.buf;
    const le = b.readUInt32LE(f.at);
    const be = b.readUInt32BE(f.at);
    if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS) this.littleEndian = true;
    else if (be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS) this.littleEndian = false;
    else throw new CaptureError(path, 0, `magic 0x${be.toString(16).padStart(8, '0')} is not a pcap file's`);
    const u32 = (o: number) => (this.littleEndian ? b.readUInt32LE(f.at + o) : b.readUInt32BE(f.at + o));
    const u16 = (o: number) => (this.littleEndian ? b.readUInt16LE(f.at + o) : b.readUInt16BE(f.at + o));
    this.nanosecond = u32(0) === PCAP_MAGIC_NS;
    this.version = `${u16(4)}.${u16(6)}`;
    if (u16(4) !== 2) throw new CaptureError(path, 4, `pcap version ${this.version} (only 2.x is defined)`);
    this.snapLen = u32(16);
    this.linkType = u32(20) & 0xffff;
    f.at += FILE_HEADER;
    this.#rec = new RecordView(this.linkType);
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

  next(): CaptureRecord | null {
    if (this.#done) return null;
    const f = this.#in;
    const offset = f.offset;
    if (!f.need(RECORD_HEADER)) {
      if (f.full) return null;
      if (f.buffered > 0) this.#cut(offset, `a ${RECORD_HEADER}-byte record header`);
      return this.#end();
    }
    const b = f.buf;
    const le = this.littleEndian;
    const at = f.at;
    const tsSec = le ? b.readUInt32LE(at) : b.readUInt32BE(at);
    const frac = le ? b.readUInt32LE(at + 4) : b.readUInt32BE(at + 4);
    const caplen = le ? b.readUInt32LE(at + 8) : b.readUInt32BE(at + 8);
    const origLen = le ? b.readUInt32LE(at + 12) : b.readUInt32BE(at + 12);
    const name = `record ${this.#index}`;
    if (caplen > MAX_RECORD)
      throw new CaptureError(
        this.path,
        offset,
        `${name}: captured length ${caplen} is larger than ${MAX_RECORD} bytes (a corrupt record header?)`,
      );
    if (this.snapLen > 0 && caplen > this.snapLen)
      throw new CaptureError(this.path, offset, `${name}: captured length ${caplen} is larger than the file's snap length ${this.snapLen}`);
    if (frac >= (this.nanosecond ? 1e9 : 1e6))
      throw new CaptureError(this.path, offset, `${name}: timestamp fraction ${frac} is not below one second`);
    if (!f.need(RECORD_HEADER + caplen)) {
      if (f.full) return null;
      this.#cut(offset, `${caplen} bytes of packet data`);
      return this.#end();
    }
    const r = this.#rec;
    r.set(f.u8, f.at + RECORD_HEADER, caplen);
    r.origLen = Math.max(origLen, caplen);
    r.tsSec = tsSec;
    r.tsNsec = this.nanosecond ? frac : frac * 1000;
    r.offset = offset;
    r.index = this.#index++;
    f.at += RECORD_HEADER + caplen;
    return r;
  }

  /**
   * scan reads up to `max` records at once for a caller that wants no record object: for each,
   * SCAN_FIELDS numbers in `out` if given (where its bytes are in `bytes.u8`, caplen, origLen,
   * the timestamp); without `out` it only moves over them. It stops early, leaving the record to `next()`, at anything but a plain record
   * (the end, a cut, a bad header: next() says what) or one whose caplen is outside [minLen, maxLen].
   */
  scan(out: Int32Array | undefined, max: number, minLen: number, maxLen: number): number {
    const f = this.#in;
    if (this.#done) return 0;
    const le = this.littleEndian;
    const fracLimit = this.nanosecond ? 1e9 : 1e6;
    const snap = this.snapLen > 0 ? Math.min(this.snapLen, maxLen) : maxLen;
    let u8 = f.u8;
    let dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
    let k = 0;
    while (k < max && f.need(RECORD_HEADER)) {
      if (f.u8 !== u8) dv = new DataView((u8 = f.u8).buffer, u8.byteOffset, u8.byteLength);
      const at = f.at;
      const caplen = dv.getUint32(at + 8, le);
      const frac = dv.getUint32(at + 4, le);
      if (caplen > snap || caplen < minLen || caplen > MAX_RECORD || frac >= fracLimit || !f.need(RECORD_HEADER + caplen)) break;
      if (f.u8 !== u8) dv = new DataView((u8 = f.u8).buffer, u8.byteOffset, u8.byteLength);
      if (out) {
        const o = k * SCAN_FIELDS;
        const origLen = dv.getUint32(f.at + 12, le);
        out[o] = f.at + RECORD_HEADER;
        out[o + 1] = caplen;
        out[o + 2] = origLen > caplen ? origLen : caplen;
        out[o + 3] = dv.getUint32(f.at, le);
        out[o + 4] = this.nanosecond ? frac : frac * 1000;
      }
      f.at += RECORD_HEADER + caplen;
      this.#index++;
      k++;
    }
    return k;
  }

  #cut(offset: number, what: string): void {
    this.warnings.push(
      `${this.path}: offset ${offset}: record ${this.#index} is cut off (the file ends before ${what}); the ${this.#index} complete records before it were read`,
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
