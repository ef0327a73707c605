import { closeSync, openSync, readSync } from 'node:fs';
import { MAX_PACKET } from '../../../hooks/runtime.js';
import { MAX_RECORD } from '../../../pcaps/record.js';
import type { AddressSpace } from '../../../vm/memory.js';
import { RecordSplitter } from '../../../vm/jit/recordSplit.js';
import { DESC_BYTES, DescWord } from '../../../vm/jit/xdpBatchDriver.js';
import { notRunnable, slotBytes } from './fileSource.js';
import { Ctl, SlotCtl, type StreamFile, StreamAborted, publish, waitSeq, windowsOf } from './windowRing.js';

/** A record header's bytes (pcap's pcaprec_hdr). */
const REC = 16;

/**
 * StreamWindow: window `win` of `file` (its bytes [24 + win * bytes, + bytes)), the
 * `seq`-th of the pass (from 1), read and walked by worker `reader` into the ring slot at `slot`;
 * `ctl` and `nextCtl`: the control words (byte addresses, windowRing's SlotCtl) of its slot and
 * of the next window's; `desc`: each worker's descriptor area for it; `ahead`: the next window,
 * when the worker given this request reads it (it may read it now, while it waits).
 */
export interface StreamWindow {
  readonly seq: number;
  readonly file: StreamFile;
  readonly win: number;
  /** The pass's window size (windowRing's windowBytes). */
  readonly bytes: number;
  readonly reader: number;
  readonly workers: number;
  readonly slots: number;
  readonly slot: number;
  readonly ctl: number;
  readonly nextCtl: number;
  readonly ctlBase: number;
  readonly desc: readonly number[];
  /**
   * Each worker's scratch slot, where a record longer than a CPU's frame runs (one at a time):
   * in a region the workers were started with (their region tables know it: the interpreter
   * checks every access against them).
   */
  readonly big: readonly number[];
  /** The program takes an skb: a frame shorter than an Ethernet header is not run. */
  readonly skb: boolean;
  readonly ahead?: { readonly seq: number; readonly file: StreamFile; readonly win: number; readonly slot: number; readonly ctl: number };
}

/** WalkReport: what the reader of a window found besides packets: records not run, a record cut off at the file's end, a corrupt header. */
export interface WalkReport {
  readonly notRun: { readonly index: number; readonly offset: number; readonly why: string }[];
  cut?: string;
  error?: { readonly offset: number; readonly message: string };
}

/**
 * WindowWalker: a worker's side of a streamed pass (windowRing.ts): the windows it reads, read
 * with pread straight into the shared memory; their header walks (where each record is, checked
 * as PcapReader checks it), handing on the next window's start as soon as the walk ends; the
 * split (recordSplit: each record hashed where it lies, a descriptor for the worker its flow
 * hashes to, as the main thread's split does); then the descriptors of its own packets.
 */
export class WindowWalker {
  readonly #space: AddressSpace;
  readonly #fds = new Map<string, number>();
  #splitter?: RecordSplitter;
  /** The window last read into its slot ahead of its request (seq), and its bytes. */
  #ahead = { seq: 0, have: 0 };
  /** The walk's stretches, [from, to, long] triples: plain records in [from, to), then the record at `to`: not run (-1), run in a scratch slot (its caplen), none (0). */
  #marks: number[] = [];

  constructor(space: AddressSpace) {
    this.#space = space;
  }

  /**
   * prepare makes window `w`'s descriptors ready for worker `me` (walking it if `me` reads it,
   * else waiting for the worker that does) and returns how many are its own, and the report of
   * the walk (the reader's only). A window after an aborted one has none.
   */
  prepare(w: StreamWindow, me: number): { n: number; report?: WalkReport } {
    const i32 = this.#space.i32;
    const abort = (w.ctlBase >> 2) + Ctl.ABORT;
    const c = w.ctl >> 2;
    try {
      if (Atomics.load(i32, abort)) return { n: 0 };
      if (me === w.reader) {
        const report = this.#walk(w);
        if (report.error) {
          publish(i32, abort, 1);
          return { n: 0, report };
        }
        return { n: i32[c + SlotCtl.PER_WORKER + w.workers + me], report };
      }
      if (w.ahead && me === (w.reader + 1) % w.workers) this.#readAhead(w.ahead, w, abort);
      waitSeq(i32, c + SlotCtl.READY_SEQ, w.seq, abort, undefined, `window ${w.win} of ${w.file.path}`);
      return { n: i32[c + SlotCtl.PER_WORKER + w.workers + me] };
    } catch (e) {
      if (e instanceof StreamAborted) return { n: 0 };
      publish(i32, abort, 1);
      throw e;
    }
  }

  /**
   * finish says worker `me` is done with window `w`'s packets (its slot may be read into again
   * once all are); after a file's last window, this worker's descriptor of the file is closed
   * (every window of it has been read: the next use of the path opens it again).
   */
  finish(w: StreamWindow, me: number): void {
    publish(this.#space.i32, (w.ctl >> 2) + SlotCtl.PER_WORKER + 2 * w.workers + me, w.seq);
    const fd = this.#fds.get(w.file.path);
    if (fd !== undefined && w.win === windowsOf(w.file.size, w.bytes) - 1 && w.ahead?.file.path !== w.file.path) {
      closeSync(fd);
      this.#fds.delete(w.file.path);
    }
  }

  #fd(path: string): number {
    let fd = this.#fds.get(path);
    if (fd === undefined) this.#fds.set(path, (fd = openSync(path, 'r')));
    return fd;
  }

  /** #pread reads the file's bytes [from, to) to `at` of the shared memory; it returns how many it got (fewer at the file's end). */
  #pread(file: StreamFile, at: number, from: number, to: number): number {
    const u8 = this.#space.u8;
    let got = 0;
    while (from + got < to) {
      const n = readSync(this.#fd(file.path), u8, at + got, to - from - got, from + got);
      if (n === 0) break;
      got += n;
    }
    return got;
  }

  /** #readWindow reads window `win` of `file` into the slot at `slot`: its bytes, fewer for the last. */
  #readWindow(file: StreamFile, win: number, bytes: number, slot: number): number {
    const from = 24 + win * bytes;
    return this.#pread(file, slot, from, Math.min(from + bytes, Math.max(file.size, from)));
  }

  /** #readAhead reads the next window now if its slot is free (every worker is done with the window it held); else its request will. */
  #readAhead(a: NonNullable<StreamWindow['ahead']>, { slots, workers, bytes }: StreamWindow, abort: number): void {
    if (Atomics.load(this.#space.i32, abort)) return;
    const held = a.seq - slots;
    const fin = (a.ctl >> 2) + SlotCtl.PER_WORKER + 2 * workers;
    for (let k = 0; k < workers; k++) if (held > 0 && Atomics.load(this.#space.i32, fin + k) < held) return;
    this.#ahead = { seq: a.seq, have: this.#readWindow(a.file, a.win, bytes, a.slot) };
  }

  /** #walk reads window `w` (unless read ahead), walks its record headers, hands on the next start, then splits its records. */
  #walk(w: StreamWindow): WalkReport {
    const i32 = this.#space.i32;
    const abort = (w.ctlBase >> 2) + Ctl.ABORT;
    const c = w.ctl >> 2;
    const { file, slot } = w;
    const W = w.bytes;
    let have = this.#ahead.seq === w.seq ? this.#ahead.have : this.#readWindow(file, w.win, W, slot);
    const fileAt = 24 + w.win * W;
    let p = 0;
    let index = 0;
    if (w.win > 0) {
      waitSeq(i32, c + SlotCtl.START_SEQ, w.seq, abort, undefined, `the start of window ${w.win} of ${file.path}`);
      p = i32[c + SlotCtl.START_OFF];
      index = i32[c + SlotCtl.START_INDEX];
    }
    const report: WalkReport = { notRun: [] };
    const marks = this.#marks;
    marks.length = 0;
    const dv = this.#space.view;
    const fracLimit = file.nanosecond ? 1e9 : 1e6;
    const snap = file.snapLen > 0 ? Math.min(file.snapLen, MAX_RECORD) : MAX_RECORD;
    let runStart = p;
    const last = w.win === windowsOf(file.size, W) - 1;
    // records that start in this window (the last: up to the file's end)
    while (p < W && (p < have || !last)) {
      if (p + REC > have) {
        have += this.#pread(file, slot + have, fileAt + have, fileAt + p + REC);
        if (p + REC > have) {
          if (p < have) report.cut = cutOff(file.path, fileAt + p, index, `a ${REC}-byte record header`);
          break;
        }
      }
      const at = slot + p;
      const caplen = dv.getUint32(at + 8, true);
      const frac = dv.getUint32(at + 4, true);
      if (caplen > snap || frac >= fracLimit) {
        report.error = { offset: fileAt + p, message: corrupt(index, caplen, frac, file.snapLen) };
        return report;
      }
      if (p + REC + caplen > have) {
        have += this.#pread(file, slot + have, fileAt + have, fileAt + p + REC + caplen);
        if (p + REC + caplen > have) {
          report.cut = cutOff(file.path, fileAt + p, index, `${caplen} bytes of packet data`);
          break;
        }
      }
      const why = notRunnable(caplen, w.skb);
      if (why) report.notRun.push({ index, offset: fileAt + p, why });
      if (why || caplen > MAX_PACKET) {
        // the plain records before it, then it (a long one runs in its worker's scratch slot)
        marks.push(runStart, p, why ? -1 : caplen);
        runStart = p + REC + caplen;
      }
      p += REC + caplen;
      index++;
    }
    // the next window starts where this one's last record ends (after a cut record: at the file's end, no records)
    if (!last) {
      const n = w.nextCtl >> 2;
      i32[n + SlotCtl.START_OFF] = (report.cut ? Math.max(p, file.size - fileAt) : p) - W;
      i32[n + SlotCtl.START_INDEX] = index;
      publish(i32, n + SlotCtl.START_SEQ, w.seq + 1);
    }
    marks.push(runStart, p, 0);
    this.#split(w, marks);
    publish(i32, c + SlotCtl.READY_SEQ, w.seq);
    return report;
  }

  /** #split writes the descriptors of the walked records, each for the worker its flow hashes to, in the order of the file. */
  #split(w: StreamWindow, marks: readonly number[]): void {
    const i32 = this.#space.i32;
    const c = w.ctl >> 2;
    const next = c + SlotCtl.PER_WORKER;
    const n = w.workers;
    for (let k = 0; k < n; k++) i32[next + k] = w.desc[k];
    const s = (this.#splitter ??= new RecordSplitter(this.#space.memory as unknown as WebAssembly.Memory));
    const scale = w.file.nanosecond ? 1 : 1000;
    for (let m = 0; m < marks.length; m += 3) {
      const [from, to, long] = [marks[m], marks[m + 1], marks[m + 2]];
      if (to > from) s.split(w.slot + from, w.slot + to, n, (next << 2) >>> 0, scale);
      if (long <= 0) continue;
      // a record longer than a CPU's frame: a descriptor with a slot to run in (its worker's scratch, one at a time)
      const at = w.slot + to;
      const k = (s.hash(at + REC, long) >>> 0) % n;
      const d = i32[next + k] >> 2;
      i32[next + k] += DESC_BYTES;
      const u32 = (o: number) => this.#space.view.getUint32(at + o, true);
      i32[d + DescWord.HARD_START] = w.big[k];
      i32[d + DescWord.ROOM] = slotBytes(long);
      i32[d + DescWord.LEN] = long;
      i32[d + DescWord.WIRE_LEN] = Math.max(u32(12), long);
      i32[d + DescWord.TS_SEC] = u32(0);
      i32[d + DescWord.TS_NSEC] = u32(4) * scale;
      i32[d + DescWord.SRC] = at + REC;
    }
    for (let k = 0; k < n; k++) i32[next + n + k] = (i32[next + k] - w.desc[k]) / DESC_BYTES;
  }
}

/** corrupt: PcapReader's error for record `index`'s header (its caplen over MAX_RECORD or the snap length, or its fraction of a second too big). */
function corrupt(index: number, caplen: number, frac: number, snapLen: number): string {
  const name = `record ${index}`;
  if (caplen > MAX_RECORD) return `${name}: captured length ${caplen} is larger than ${MAX_RECORD} bytes (a corrupt record header?)`;
  if (snapLen > 0 && caplen > snapLen) return `${name}: captured length ${caplen} is larger than the file's snap length ${snapLen}`;
  return `${name}: timestamp fraction ${frac} is not below one second`;
}

/** cutOff: PcapReader's warning for a record the file's end cuts. */
function cutOff(path: string, offset: number, index: number, what: string): string {
  return `${path}: offset ${offset}: record ${index} is cut off (the file ends before ${what}); the ${index} complete records before it were read`;
}
