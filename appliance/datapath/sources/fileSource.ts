import { MAX_PACKET } from '../../../hooks/runtime.js';
import { LinkType, SUPPORTED, linkTypeName, linkTypeSupported, toEthernet } from '../../../pcaps/linkType.js';
import { openCapture } from '../../../pcaps/open.js';
import { STDIO } from '../../../pcaps/streamIo.js';
import { UserError } from '../../../uapi/userError.js';
import { PcapReader, SCAN_FIELDS } from '../../../pcaps/pcapReader.js';
import { CaptureError, type CaptureReader, type CaptureRecord } from '../../../pcaps/record.js';
import { type AddressSpace, PAGE_SIZE, Perm, type Region } from '../../../vm/memory.js';
import { XDP_MAX_LINEAR } from '../../../hooks/testRun.js';
import { XDP_TAILROOM } from '../../../hooks/xdp.js';
import { ETH_HLEN } from '../../../uapi/ethernet.js';
import { XDP_PACKET_HEADROOM } from '../../../uapi/xdp.js';
import { DESC_BYTES, DescWord } from '../../../vm/jit/xdpBatchDriver.js';
import { flowHash } from '../flowHash.js';
import { RecordSplitter } from '../../../vm/jit/recordSplit.js';
import type { StreamFile } from './windowRing.js';

/** Ingress buffers: two sets (one filling while the other runs), 8 MiB per worker each. */
export const BUF_BYTES = 8 << 20;
/** Staging: the capture file is read straight into the shared memory, one buffer per window set. */
export const STAGING_BYTES = 4 << 20;
export const WINDOW = 8192;
/** The descriptors of a window's batch come first in each ingress buffer; slots follow. */
const DESC_AREA = WINDOW * DESC_BYTES;
/** #fillSplit hashes this many records at a time, right after the scan read them: their headers are still in the cache. */
const SPLIT_RECORDS = 512;
/** The longest packet replay runs: an XDP frame of 17 fragments past its linear part, or a 64 KiB skb. */
export const MAX_LEN = 65535;

/** notRunnable: why a record of `len` bytes is not run (longer than any device receives; a runt no skb is), or undefined. */
export function notRunnable(len: number, skb: boolean): string | undefined {
  if (len > MAX_LEN) return `${len} bytes: longer than ${MAX_LEN}`;
  if (skb && len < ETH_HLEN) return `${len} bytes: shorter than an Ethernet header, which no skb is`;
  return undefined;
}

/**
 * slotBytes: the room a packet of `len` bytes gets in an ingress buffer (an IngressSlot, the
 * packet at XDP_PACKET_HEADROOM): a page (XDP's frame) when it fits the linear part, else
 * the headroom, the packet, a page to grow into and the tailroom, in whole pages.
 */
export function slotBytes(len: number): number {
  return len <= XDP_MAX_LINEAR ? PAGE_SIZE : Math.ceil((XDP_PACKET_HEADROOM + len + PAGE_SIZE + XDP_TAILROOM) / PAGE_SIZE) * PAGE_SIZE;
}

const isStdin = (p: string) => p === STDIO || p === '/dev/stdin';

/** Tally: what a Source counts while it reads (the summary's fields). */
export interface Tally {
  skipped: number;
  warnings: string[];
}

/**
 * Window: the packets of one window and each worker's batch (descriptors at `desc[w]` in the
 * shared memory, `batchLen[w]` of them). Unless `tally` (no packet comes back: no outputs),
 * also per packet in capture order: worker (-1: not run), index in that worker's batch,
 * timestamp, lengths, and for those not run the bytes themselves and why.
 */
export interface Window {
  count: number;
  readonly tally: boolean;
  worker: Int32Array;
  index: Int32Array;
  tsSec: Float64Array;
  tsNsec: Int32Array;
  origLen: Int32Array;
  notRun: Map<number, { data: Uint8Array; why: string }>;
  desc: number[];
  batchLen: number[];
  /** Instead of batches: the pcap records every worker walks (BatchRequest.records). */
  records?: { start: number; end: number };
}

/** A record held over to the next window (its worker's buffer was full), copied out of the reader's buffer. */
interface Held {
  frame: Uint8Array;
  tsSec: number;
  tsNsec: number;
  origLen: number;
}

/** Frame: an Ethernet frame to run, `len` bytes at `off` of `src` (which may be the staging buffer), and its record's times and length. */
interface Frame {
  readonly src: Uint8Array;
  readonly off: number;
  readonly len: number;
  readonly tsSec: number;
  readonly tsNsec: number;
  readonly origLen: number;
}

/** Filling: one fill's ingress buffers (one per worker) with the bytes taken in each (descriptors first), its staging buffer, and whether the program takes an skb. */
interface Filling {
  readonly bufs: readonly Region[];
  readonly used: number[];
  readonly staging: Uint8Array;
  readonly skb: boolean;
}

/** FillOptions: what a window is for. */
export interface FillOptions {
  /** The program takes an skb: a frame shorter than an Ethernet header is not run. */
  readonly skb: boolean;
  /** At most this many packets (default and at most WINDOW). */
  readonly limit?: number;
  /** Nothing is written out: the window keeps nothing per packet, the workers send back counts. */
  readonly tally?: boolean;
  /** With `tally`: the workers can walk pcap records themselves (WorkerInit.batch), so a window of plain records is only where they lie. */
  readonly records?: boolean;
}

/**
 * Source reads the captures one after another into windows in the shared memory. A capture
 * may be a stream (`-` for standard input, a FIFO, a pipe): read once, in order; its size is
 * unknown, so `size` is 0 (no total for progress) when any capture is one.
 */
export class Source {
  readonly #paths: readonly string[];
  readonly #s: Tally;
  readonly #warn?: (l: string) => void;
  readonly #mem: AddressSpace;
  #i = 0;
  #reader?: CaptureReader;
  #doneBytes = 0;
  #held?: Held;
  #finished = false;
  readonly size: number;

  /** Whether packets are kept in slots until they are written out (else the workers reuse their frames). */
  readonly #keep: boolean;
  readonly #scanned = new Int32Array(WINDOW * SCAN_FIELDS);
  /** preload(): each capture read whole into the shared memory, its reader reading from there. */
  #preloaded?: CaptureReader[];
  /** Streams (standard input, FIFOs, pipes) opened by the constructor: they cannot be opened twice, so they are read on from there. */
  readonly #streams = new Map<number, CaptureReader>();
  /** #fillSplit's hash and descriptors in WebAssembly, made at its first use. */
  #splitter?: RecordSplitter;

  constructor(paths: readonly string[], mem: AddressSpace, s: Tally, warn: ((l: string) => void) | undefined, keep: boolean) {
    this.#keep = keep;
    this.#paths = paths;
    this.#mem = mem;
    this.#s = s;
    this.#warn = warn;
    if (paths.filter(isStdin).length > 1) throw new UserError(`${paths.find(isStdin)}: standard input is given twice; it can be read once`);
    // open each once up front: a missing or corrupt file fails before any packet runs
    let size = 0;
    let streamed = false;
    try {
      paths.forEach((p, i) => {
        const r = openCapture(p);
        if (r.bytes.stream) {
          this.#streams.set(i, r);
          streamed = true;
        } else {
          size += r.size;
          r.close();
        }
      });
    } catch (e) {
      for (const r of this.#streams.values()) r.close();
      throw e;
    }
    this.size = streamed ? 0 : size;
  }

  /**
   * preload reads every capture whole into the shared memory now (tcpreplay's --preload-pcap),
   * so that the pass reads nothing from files: its records are then walked where they lie.
   */
  preload(): void {
    const mem = this.#mem;
    const tooBig = (bytes: number) =>
      new UserError(
        `--preload: the captures (${Math.ceil(bytes / 2 ** 20)} MiB) do not fit the ${Math.floor(mem.unmapped / 2 ** 20)} MiB the address space has left; replay them without --preload`,
      );
    if (this.size > mem.unmapped) throw tooBig(this.size);
    this.#preloaded = this.#paths.map((p, i) => {
      const r = this.#take(i);
      const b = r.bytes;
      // a stream's size is known at its end: read it whole (the buffer doubling) before mapping its region
      if (b.stream) while (b.need(b.buffered + 1) && b.buffered <= mem.unmapped);
      const size = b.stream ? b.buffered : r.size;
      if (size > mem.unmapped) throw tooBig(size);
      b.compact = false;
      const region = mem.map(Math.max(size, 1), Perm.READ, `capture/${p}`);
      b.setBuffer(mem.u8.subarray(region.start, region.start + region.size));
      b.need(size - b.offset);
      return r;
    });
  }

  /**
   * streamFiles: the captures as files the workers can read themselves (windowRing.ts), or
   * undefined unless every one is a plain little-endian pcap of Ethernet frames in a file (not
   * a stream: standard input, a FIFO, a pipe) and none was preloaded or read yet.
   */
  streamFiles(): StreamFile[] | undefined {
    if (this.#preloaded || this.#reader || this.#i > 0 || this.#streams.size || this.#paths.some(isStdin)) return undefined;
    const files: StreamFile[] = [];
    for (const path of this.#paths) {
      const r = openCapture(path);
      try {
        if (!(r instanceof PcapReader) || r.bytes.stream || !r.littleEndian || r.linkType !== LinkType.LINKTYPE_ETHERNET) return undefined;
        files.push({ path, size: r.size, snapLen: r.snapLen, nanosecond: r.nanosecond });
      } finally {
        r.close();
      }
    }
    return files;
  }

  /** #take: capture `i`'s reader, the one the constructor kept if it is a stream, else opened now. */
  #take(i: number): CaptureReader {
    const kept = this.#streams.get(i);
    this.#streams.delete(i);
    return kept ?? openCapture(this.#paths[i]);
  }

  get position(): number {
    return this.#doneBytes + (this.#reader?.position ?? 0);
  }

  /**
   * #next: the next record, or null when the window must end: the staging buffer is full,
   * a file ended (a window never spans files: their records share the staging buffer), or
   * the captures are done (then `#finished`).
   */
  #next(staging: Uint8Array, windowEmpty: boolean): CaptureRecord | null {
    for (;;) {
      if (!this.#reader) {
        if (this.#i >= this.#paths.length) return ((this.#finished = true), null);
        if (!windowEmpty) return null;
        this.#open(staging);
      }
      const r = this.#reader!.next();
      if (r) return r;
      if (this.#reader!.bytes.full) return null;
      for (const w of this.#reader!.warnings) this.#warning(w);
      this.#doneBytes += this.#reader!.bytes.stream ? this.#reader!.position : this.#reader!.size;
      this.#reader!.close();
      this.#reader = undefined;
    }
  }

  /** #open makes the next capture the one read (into `staging`, unless it was preloaded). */
  #open(staging: Uint8Array): void {
    if (this.#preloaded) this.#reader = this.#preloaded[this.#i++];
    else {
      this.#reader = this.#take(this.#i++);
      this.#reader.bytes.compact = false;
      this.#reader.bytes.setBuffer(staging);
    }
  }

  #warning(w: string): void {
    this.#s.warnings.push(w);
    this.#warn?.(w);
  }

  /**
   * fill reads up to a window of packets (`o.limit`, at most WINDOW), the captures read into
   * `staging`, each for the worker its flow hashes to (its ingress buffer in `bufs`), in the
   * first of three ways that applies:
   *   - #fillRecords: the workers walk plain pcap records themselves; the window is where they lie;
   *   - #fillScanned: Ethernet records of classic pcap, nothing written out: many a call, a descriptor each;
   *   - #fillOne: any record, one at a time: other link types converted, packets not run set
   *     aside, slots for the packets kept to be written out.
   */
  fill(bufs: readonly Region[], staging: Region, o: FillOptions): Window {
    const n = bufs.length;
    const tally = o.tally ?? false;
    const per = tally ? 0 : WINDOW;
    const win: Window = {
      count: 0,
      tally,
      worker: new Int32Array(per),
      index: new Int32Array(per),
      tsSec: new Float64Array(per),
      tsNsec: new Int32Array(per),
      origLen: new Int32Array(per),
      notRun: new Map(),
      desc: bufs.map((b) => b.start),
      batchLen: Array(n).fill(0),
    };
    const f: Filling = {
      bufs,
      used: Array(n).fill(DESC_AREA),
      staging: this.#mem.u8.subarray(staging.start, staging.start + staging.size),
      skb: o.skb,
    };
    if (!this.#preloaded) this.#reader?.bytes.setBuffer(f.staging);
    const max = Math.min(o.limit ?? WINDOW, WINDOW);
    if (!this.#reader && this.#i < this.#paths.length) this.#open(f.staging);
    if (o.records && tally && this.#fillRecords(win, max)) return win;
    while (win.count < max && !this.#finished) {
      if (n > 1 && this.#fillSplit(win, max, o.skb, f)) continue;
      if (this.#fillScanned(win, max, o.skb)) continue;
      if (!this.#fillOne(win, f)) break;
    }
    return win;
  }

  /**
   * #fillRecords makes the window the next records, up to `max`, if the workers can walk them
   * themselves (little-endian classic pcap, Ethernet, nothing kept or held over); it says
   * whether it did.
   */
  #fillRecords(win: Window, max: number): boolean {
    const r = this.#reader;
    if (this.#keep || this.#held || !(r instanceof PcapReader) || !r.littleEndian || r.linkType !== LinkType.LINKTYPE_ETHERNET)
      return false;
    const start = r.bytes.u8.byteOffset + r.bytes.at;
    const got = r.scan(undefined, max, 0, MAX_PACKET);
    if (!got) return false;
    win.records = { start, end: r.bytes.u8.byteOffset + r.bytes.at };
    win.count = got;
    return true;
  }

  /**
   * #fillSplit adds plain records of a little-endian classic pcap of Ethernet frames when several
   * workers run them and nothing is written out: PcapReader.scan checks them (moving over them),
   * then recordSplit hashes each where it lies and writes its worker's descriptor, pointing at
   * it (in WebAssembly: the main thread's cost per packet is what decides whether more workers
   * go faster). It says whether it added any (else #fillScanned and #fillOne take the next).
   */
  #fillSplit(win: Window, max: number, skb: boolean, f: Filling): boolean {
    const r = this.#reader;
    if (
      !win.tally ||
      this.#keep ||
      this.#held ||
      !(r instanceof PcapReader) ||
      !r.littleEndian ||
      r.linkType !== LinkType.LINKTYPE_ETHERNET
    )
      return false;
    if (f.used[0] + 4 * win.desc.length > f.bufs[0].size) return false;
    const start = r.bytes.u8.byteOffset + r.bytes.at;
    const got = r.scan(undefined, Math.min(max - win.count, SPLIT_RECORDS), skb ? ETH_HLEN : 0, MAX_PACKET);
    if (!got) return false;
    const end = r.bytes.u8.byteOffset + r.bytes.at;
    // each worker's next descriptor, in the first worker's slot area (no slot is taken before the window's last split)
    const next = f.bufs[0].start + f.used[0];
    const i32 = this.#mem.i32;
    win.desc.forEach((d, w) => (i32[(next >> 2) + w] = d + win.batchLen[w] * DESC_BYTES));
    (this.#splitter ??= new RecordSplitter(this.#mem.memory as unknown as WebAssembly.Memory)).split(
      start,
      end,
      win.desc.length,
      next,
      r.nanosecond ? 1 : 1000,
    );
    const after = this.#mem.i32;
    win.desc.forEach((d, w) => (win.batchLen[w] = (after[(next >> 2) + w] - d) / DESC_BYTES));
    win.count += got;
    return true;
  }

  /**
   * #fillScanned adds Ethernet records of classic pcap when nothing is written out: many at
   * once, no record objects, each a descriptor pointing where it lies; it says whether it
   * added any (else the next record takes #fillOne).
   */
  #fillScanned(win: Window, max: number, skb: boolean): boolean {
    const r = this.#reader;
    if (!win.tally || this.#keep || this.#held || !(r instanceof PcapReader) || r.linkType !== LinkType.LINKTYPE_ETHERNET) return false;
    const got = r.scan(this.#scanned, max - win.count, skb ? ETH_HLEN : 0, MAX_PACKET);
    const sc = this.#scanned;
    const base = r.bytes.u8.byteOffset;
    const u8 = this.#mem.u8;
    const i32 = this.#mem.i32;
    const n = win.desc.length;
    for (let j = 0; j < got; j++) {
      const at = sc[j * SCAN_FIELDS];
      const len = sc[j * SCAN_FIELDS + 1];
      const w = n === 1 ? 0 : flowHash(u8, base + at, len) % n;
      const k = win.batchLen[w]++;
      const o = (win.desc[w] + k * DESC_BYTES) >> 2;
      i32[o + DescWord.HARD_START] = 0;
      i32[o + DescWord.ROOM] = 0;
      i32[o + DescWord.LEN] = len;
      i32[o + DescWord.WIRE_LEN] = sc[j * SCAN_FIELDS + 2];
      i32[o + DescWord.TS_SEC] = sc[j * SCAN_FIELDS + 3];
      i32[o + DescWord.TS_NSEC] = sc[j * SCAN_FIELDS + 4];
      i32[o + DescWord.SRC] = base + at;
    }
    win.count += got;
    return got > 0;
  }

  /** #fillOne adds the next record (or the one held over); it says whether the window goes on (false: it ends here). */
  #fillOne(win: Window, f: Filling): boolean {
    const p = this.#held ? this.#takeHeld() : this.#nextFrame(win, f);
    if (p === null) return false;
    return p === undefined || this.#place(win, f, p);
  }

  #takeHeld(): Frame {
    const { frame, tsSec, tsNsec, origLen } = this.#held!;
    this.#held = undefined;
    return { src: frame, off: 0, len: frame.length, tsSec, tsNsec, origLen };
  }

  /**
   * #nextFrame: the next record as an Ethernet frame to run, or undefined when it is not run
   * (set aside in the window, with why), or null when the window must end (#next).
   */
  #nextFrame(win: Window, f: Filling): Frame | undefined | null {
    const r = this.#next(f.staging, win.count === 0);
    if (!r) return null;
    const { tsSec, tsNsec, origLen } = r;
    // an Ethernet frame in the staging buffer is not copied (nor a view made of it)
    let p: Frame;
    if (r.linkType === LinkType.LINKTYPE_ETHERNET) p = { src: r.bytes, off: r.at, len: r.caplen, tsSec, tsNsec, origLen };
    else {
      if (!linkTypeSupported(r.linkType))
        throw new CaptureError(
          this.#reader!.path,
          r.offset,
          `record ${r.index}: ${linkTypeName(r.linkType)} is not supported (${SUPPORTED})`,
        );
      const frame = toEthernet(r.linkType, r.data);
      if (typeof frame === 'string') {
        this.#notRun(win, r, { frame: r.data.slice(), tsSec, tsNsec, origLen }, frame);
        return undefined;
      }
      p = { src: frame, off: 0, len: frame.length, tsSec, tsNsec, origLen };
    }
    const { len } = p;
    const why = notRunnable(len, f.skb);
    if (why === undefined) return p;
    this.#notRun(win, r, { frame: p.src.slice(p.off, p.off + len), tsSec, tsNsec, origLen }, why);
    return undefined;
  }

  /**
   * #place gives frame `p` to its worker: a slot in its ingress buffer (unless it is in the
   * staging buffer and nothing keeps it: its worker copies it into its own frame) and a
   * descriptor; false when that buffer is full (the frame is held over to start the next window).
   */
  #place(win: Window, f: Filling, p: Frame): boolean {
    const { src, off, len } = p;
    const u8 = this.#mem.u8;
    const i32 = this.#mem.i32;
    const n = f.bufs.length;
    const w = n === 1 ? 0 : flowHash(src, off, len) % n;
    // a frame still in the staging buffer is copied into its slot (or frame) by the worker
    const inStaging = src.buffer === u8.buffer;
    const slotless = !this.#keep && inStaging && len <= MAX_PACKET;
    const room = slotless ? 0 : slotBytes(len);
    const buf = f.bufs[w];
    if (f.used[w] + room > buf.size) {
      this.#held = { frame: src.slice(off, off + len), tsSec: p.tsSec, tsNsec: p.tsNsec, origLen: p.origLen };
      return false;
    }
    const i = win.count++;
    const hardStart = slotless ? 0 : buf.start + f.used[w];
    f.used[w] += room;
    if (!inStaging) u8.set(src.subarray(off, off + len), hardStart + XDP_PACKET_HEADROOM);
    const k = win.batchLen[w]++;
    const o = (buf.start + k * DESC_BYTES) >> 2;
    i32[o + DescWord.SRC] = inStaging ? src.byteOffset + off : 0;
    i32[o + DescWord.HARD_START] = hardStart;
    i32[o + DescWord.ROOM] = room;
    i32[o + DescWord.LEN] = len;
    i32[o + DescWord.WIRE_LEN] = Math.max(p.origLen, len);
    i32[o + DescWord.TS_SEC] = p.tsSec | 0;
    i32[o + DescWord.TS_NSEC] = p.tsNsec;
    if (!win.tally) {
      win.tsSec[i] = p.tsSec;
      win.tsNsec[i] = p.tsNsec;
      win.origLen[i] = p.origLen;
      win.worker[i] = w;
      win.index[i] = k;
    }
    return true;
  }

  /** finished: every capture has been read to its end. */
  get finished(): boolean {
    return this.#finished && !this.#held;
  }

  /**
   * discard reads up to `n` packets and drops them unrun (an ingest queue that overflowed);
   * it returns how many it dropped. Bytes are only appended to the staging buffer, so the
   * packets of windows in flight stay where they are.
   */
  discard(n: number): number {
    let dropped = 0;
    if (this.#held && n > 0) ((this.#held = undefined), dropped++);
    while (dropped < n && this.#reader) {
      const r = this.#reader.next();
      if (!r) break;
      dropped++;
    }
    return dropped;
  }

  #notRun(win: Window, r: CaptureRecord, h: Held, why: string): void {
    const i = win.count++;
    if (!win.tally) {
      win.tsSec[i] = h.tsSec;
      win.tsNsec[i] = h.tsNsec;
      win.origLen[i] = h.origLen;
      win.worker[i] = -1;
      win.notRun.set(i, { data: h.frame, why });
    }
    this.#s.skipped++;
    if (this.#s.skipped <= 10) this.#warning(`${this.#reader?.path}: record ${r.index} (offset ${r.offset}): not run: ${why}`);
  }
}
