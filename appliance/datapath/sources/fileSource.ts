import { MAX_PACKET } from '../../../hooks/runtime.js';
import { LinkType, linkTypeName, linkTypeSupported, toEthernet } from '../../../pcaps/linkType.js';
import { openCapture } from '../../../pcaps/open.js';
import { PcapReader, SCAN_FIELDS } from '../../../pcaps/pcapReader.js';
import { CaptureError, type CaptureReader, type CaptureRecord } from '../../../pcaps/record.js';
import { type AddressSpace, PAGE_SIZE, Perm, type Region } from '../../../vm/memory.js';
import { XDP_MAX_LINEAR } from '../../../hooks/testRun.js';
import { XDP_TAILROOM } from '../../../hooks/xdp.js';
import { XDP_PACKET_HEADROOM } from '../../../uapi/xdp.js';
import { DESC_BYTES, DescWord } from '../../../hooks/xdpBatch.js';
import { flowHash } from '../flowHash.js';

/** Ingress buffers: two sets (one filling while the other runs), 8 MiB per worker each. */
export const BUF_BYTES = 8 << 20;
/** Staging: the capture file is read straight into the shared memory, one buffer per window set. */
export const STAGING_BYTES = 4 << 20;
export const WINDOW = 8192;
/** The descriptors of a window's batch come first in each ingress buffer; slots follow. */
const DESC_AREA = WINDOW * DESC_BYTES;
/** The longest packet replay runs: an XDP frame of 17 fragments past its linear part, or a 64 KiB skb. */
const MAX_LEN = 65535;

/**
 * slotBytes: the room a packet of `len` bytes gets in an ingress buffer (an IngressSlot, the
 * packet at XDP_PACKET_HEADROOM): a page (XDP's frame) when it fits the linear part, else
 * the headroom, the packet, a page to grow into and the tailroom, in whole pages.
 */
export function slotBytes(len: number): number {
  return len <= XDP_MAX_LINEAR ? PAGE_SIZE : Math.ceil((XDP_PACKET_HEADROOM + len + PAGE_SIZE + XDP_TAILROOM) / PAGE_SIZE) * PAGE_SIZE;
}

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
interface Held { frame: Uint8Array; tsSec: number; tsNsec: number; origLen: number }

/** Source reads the captures one after another into windows in the shared memory. */
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

  constructor(paths: readonly string[], mem: AddressSpace, s: Tally, warn: ((l: string) => void) | undefined, keep: boolean) {
    this.#keep = keep;
    this.#paths = paths;
    this.#mem = mem;
    this.#s = s;
    this.#warn = warn;
    // open each once up front: a missing or corrupt file fails before any packet runs
    let size = 0;
    for (const p of paths) {
      const r = openCapture(p);
      size += r.size;
      r.close();
    }
    this.size = size;
  }

  /**
   * preload reads every capture whole into the shared memory now (tcpreplay's --preload-pcap),
   * so that the pass reads nothing from files: its records are then walked where they lie.
   */
  preload(): void {
    const mem = this.#mem;
    const free = mem.unmapped;
    if (this.size > free) throw new RangeError(`--preload: the captures (${Math.ceil(this.size / 2 ** 20)} MiB) do not fit the ${Math.floor(free / 2 ** 20)} MiB the address space has left; replay them without --preload`);
    this.#preloaded = this.#paths.map((p) => {
      const r = openCapture(p);
      r.bytes.compact = false;
      const region = mem.map(Math.max(r.size, 1), Perm.READ, `capture/${p}`);
      r.bytes.setBuffer(mem.u8.subarray(region.start, region.start + region.size));
      r.bytes.need(r.size - r.bytes.offset);
      return r;
    });
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
        if (this.#i >= this.#paths.length) return (this.#finished = true), null;
        if (!windowEmpty) return null;
        this.#open(staging);
      }
      const r = this.#reader!.next();
      if (r) return r;
      if (this.#reader!.bytes.full) return null;
      for (const w of this.#reader!.warnings) this.#warning(w);
      this.#doneBytes += this.#reader!.size;
      this.#reader!.close();
      this.#reader = undefined;
    }
  }

  /** #open makes the next capture the one read (into `staging`, unless it was preloaded). */
  #open(staging: Uint8Array): void {
    if (this.#preloaded) this.#reader = this.#preloaded[this.#i++];
    else {
      this.#reader = openCapture(this.#paths[this.#i++]);
      this.#reader.bytes.compact = false;
      this.#reader.bytes.setBuffer(staging);
    }
  }

  #warning(w: string): void {
    this.#s.warnings.push(w);
    this.#warn?.(w);
  }

  /**
   * fill reads up to WINDOW packets, each into the ingress buffer of the worker its flow
   * hashes to; `tally`: the window keeps nothing per packet for writing out; `records`: the
   * workers can walk pcap records themselves (a batched XDP program), so a window of plain
   * records is just where they lie.
   */
  fill(bufs: readonly Region[], stagingRegion: Region, skb: boolean, limit = WINDOW, tally = false, records = false): Window {
    const n = bufs.length;
    const per = tally ? 0 : WINDOW;
    const win: Window = {
      count: 0, tally, worker: new Int32Array(per), index: new Int32Array(per), tsSec: new Float64Array(per), tsNsec: new Int32Array(per), origLen: new Int32Array(per),
      notRun: new Map(), desc: bufs.map((b) => b.start), batchLen: Array(n).fill(0),
    };
    const used: number[] = Array(n).fill(DESC_AREA);
    const u8 = this.#mem.u8;
    const i32 = this.#mem.i32;
    const staging = u8.subarray(stagingRegion.start, stagingRegion.start + stagingRegion.size);
    if (!this.#preloaded) this.#reader?.bytes.setBuffer(staging);
    const max = Math.min(limit, WINDOW);
    // records the workers can walk themselves (little-endian classic pcap, Ethernet): the window is where they lie
    if (!this.#reader && this.#i < this.#paths.length) this.#open(staging);
    const r1 = this.#reader;
    if (records && tally && !this.#keep && !this.#held && r1 instanceof PcapReader && r1.littleEndian && r1.linkType === LinkType.LINKTYPE_ETHERNET) {
      const start = r1.bytes.u8.byteOffset + r1.bytes.at;
      const got = r1.scan(undefined, max, 0, MAX_PACKET);
      if (got) {
        win.records = { start, end: r1.bytes.u8.byteOffset + r1.bytes.at };
        win.count = got;
        return win;
      }
    }
    while (win.count < max && !this.#finished) {
      // Ethernet records of classic pcap, when nothing is written out: many at once, no record objects
      const r0 = this.#reader;
      if (win.tally && !this.#keep && !this.#held && r0 instanceof PcapReader && r0.linkType === LinkType.LINKTYPE_ETHERNET) {
        const got = r0.scan(this.#scanned, max - win.count, skb ? 14 : 0, MAX_PACKET);
        const sc = this.#scanned;
        const base = r0.bytes.u8.byteOffset;
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
        if (got) continue;
      }
      // the frame: `len` bytes at `off` in `src` (no view made for an Ethernet frame in the staging buffer)
      let src: Uint8Array;
      let off = 0;
      let len: number;
      let tsSec: number;
      let tsNsec: number;
      let origLen: number;
      if (this.#held) {
        ({ frame: src, tsSec, tsNsec, origLen } = this.#held);
        len = src.length;
        this.#held = undefined;
      } else {
        const r = this.#next(staging, win.count === 0);
        if (!r) break;
        ({ tsSec, tsNsec, origLen } = r);
        if (r.linkType === LinkType.LINKTYPE_ETHERNET) {
          src = r.bytes;
          off = r.at;
          len = r.caplen;
        } else {
          if (!linkTypeSupported(r.linkType)) throw new CaptureError(this.#reader!.path, r.offset, `record ${r.index}: ${linkTypeName(r.linkType)} is not supported (Ethernet, raw IP, Linux SLL and SLL2 are)`);
          const frame = toEthernet(r.linkType, r.data);
          if (typeof frame === 'string') {
            this.#notRun(win, r, { frame: r.data.slice(), tsSec, tsNsec, origLen }, frame);
            continue;
          }
          src = frame;
          len = frame.length;
        }
        const why = len > MAX_LEN ? `${len} bytes: longer than ${MAX_LEN}` : skb && len < 14 ? `${len} bytes: shorter than an Ethernet header, which no skb is` : undefined;
        if (why !== undefined) {
          this.#notRun(win, r, { frame: src.slice(off, off + len), tsSec, tsNsec, origLen }, why);
          continue;
        }
      }
      const w = n === 1 ? 0 : flowHash(src, off, len) % n;
      // a frame still in the staging buffer is copied into its slot (or frame) by the worker
      const inStaging = src.buffer === u8.buffer;
      const slotless = !this.#keep && inStaging && len <= MAX_PACKET;
      const room = slotless ? 0 : slotBytes(len);
      if (used[w] + room > bufs[w].size) {
        // this worker's buffer is full: the packet starts the next window
        this.#held = { frame: src.slice(off, off + len), tsSec, tsNsec, origLen };
        break;
      }
      const i = win.count++;
      const hardStart = slotless ? 0 : bufs[w].start + used[w];
      used[w] += room;
      if (!inStaging) u8.set(src.subarray(off, off + len), hardStart + XDP_PACKET_HEADROOM);
      const k = win.batchLen[w]++;
      const o = ((bufs[w].start + k * DESC_BYTES) >> 2);
      i32[o + DescWord.SRC] = inStaging ? src.byteOffset + off : 0;
      i32[o + DescWord.HARD_START] = hardStart;
      i32[o + DescWord.ROOM] = room;
      i32[o + DescWord.LEN] = len;
      i32[o + DescWord.WIRE_LEN] = Math.max(origLen, len);
      i32[o + DescWord.TS_SEC] = tsSec | 0;
      i32[o + DescWord.TS_NSEC] = tsNsec;
      if (!tally) {
        win.tsSec[i] = tsSec;
        win.tsNsec[i] = tsNsec;
        win.origLen[i] = origLen;
        win.worker[i] = w;
        win.index[i] = k;
      }
    }
    return win;
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
    if (this.#held && n > 0) (this.#held = undefined), dropped++;
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

