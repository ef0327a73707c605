import { UserError } from '../uapi/userError.js';
import type { FileBytes } from './fileBytes.js';

/**
 * CaptureRecord is one packet read from a capture. `data` is a view into the reader's
 * buffer, valid until the next `next()` call: copy it (into the shared memory) before then.
 */
export interface CaptureRecord {
  /** The captured bytes (caplen of them): a view made on first use. */
  readonly data: Uint8Array;
  /** The same bytes without a view: `caplen` of them at `at` in `bytes` (the reader's buffer). */
  readonly bytes: Uint8Array;
  readonly at: number;
  readonly caplen: number;
  /** The length the packet had on the wire (at least data.length). */
  origLen: number;
  /** Timestamp: whole seconds since the epoch and nanoseconds within that second. */
  tsSec: number;
  tsNsec: number;
  /** The link type of the interface it was captured on (LINKTYPE_*). */
  linkType: number;
  /** pcapng interface index (0 for classic pcap). */
  ifIndex: number;
  /** Byte offset of the record's header in the file. */
  offset: number;
  /** 0-based index of the record among the packets of the file. */
  index: number;
}

/** CaptureReader streams records in file order with constant memory. */
export interface CaptureReader {
  readonly path: string;
  readonly format: 'pcap' | 'pcapng';
  /** The bytes it reads through (replay gives it buffers in the shared memory). */
  readonly bytes: FileBytes;
  /**
   * The next record, or null at the end of the file (or at a record cut off mid-way), or,
   * when `bytes.compact` is off and `bytes.full`, null until the caller gives a new buffer.
   */
  next(): CaptureRecord | null;
  /** Warnings so far (a capture cut off mid-record names the offset here). */
  readonly warnings: readonly string[];
  /** Bytes consumed so far and the file's size, for progress. */
  readonly position: number;
  readonly size: number;
  close(): void;
}

/** CaptureError: a capture that cannot be read, naming the file, the offset and the record. */
export class CaptureError extends UserError {
  declare readonly file: string;
  declare readonly offset: number;
  constructor(path: string, offset: number, message: string) {
    super(`${path}: offset ${offset}: ${message}`, { file: path, offset });
  }
}

/** MAX_RECORD: the longest packet record bpfbox reads (256 KiB, as tcpdump's MAXIMUM_SNAPLEN). */
export const MAX_RECORD = 256 * 1024;

/** RecordView: the record object a reader reuses for every packet (no allocation per packet). */
export class RecordView implements CaptureRecord {
  bytes: Uint8Array = new Uint8Array(0);
  at = 0;
  caplen = 0;
  origLen = 0;
  tsSec = 0;
  tsNsec = 0;
  linkType: number;
  ifIndex = 0;
  offset = 0;
  index = 0;

  constructor(linkType: number) {
    this.linkType = linkType;
  }

  get data(): Uint8Array {
    return this.bytes.subarray(this.at, this.at + this.caplen);
  }

  /** set points the view at `caplen` bytes at `at` of `bytes`. */
  set(bytes: Uint8Array, at: number, caplen: number): void {
    this.bytes = bytes;
    this.at = at;
    this.caplen = caplen;
  }
}
