import { MAX_RECORD } from '../../../pcaps/record.js';
import { PAGE_SIZE } from '../../../vm/memory.js';
import { DESC_BYTES } from '../../../vm/jit/xdpBatchDriver.js';

/**
 * windowRing: the shared layout of a streamed pass in which the workers read the capture
 * themselves (sources/windowWalk.ts), as a NIC's queues each DMA their own descriptors' buffers:
 * the file is cut into fixed byte ranges (windows of windowBytes() after the 24-byte header),
 * window g is read with pread by worker g mod N into ring slot g mod S, and the control words
 * below pass what only the previous window's header walk knows (where the first record of the
 * next window starts, and its record index) from worker to worker with Atomics. The main
 * thread sends each worker one request per window and does no work per packet or per byte.
 */

/** MAX_WINDOW: a window's bytes (a worker's descriptors for one take up to twice that: descBytes). */
export const MAX_WINDOW = 4 << 20;

/** windowBytes: a streamed pass's window (BPFBOX_STREAM_WINDOW, read at each pass, makes it smaller: the tests make records straddle many windows). */
export function windowBytes(): number {
  const env = Math.floor(Number(process.env.BPFBOX_STREAM_WINDOW));
  return env > 0 ? Math.min(env, MAX_WINDOW) : MAX_WINDOW;
}

/**
 * streamEnabled: whether a pass may have the workers read (BPFBOX_STREAM=off, read at each
 * pass, keeps the main thread reading: the tests' and benchmark's reference).
 */
export const streamEnabled = () => process.env.BPFBOX_STREAM !== 'off';

/** streamed: windows the workers have read in this process (the tests check that a pass took this way). */
export const streamed = { windows: 0 };

/** TAIL_BYTES: room after a window for the rest of the record that crosses its end (a header and the longest record read). */
export const TAIL_BYTES = Math.ceil((16 + MAX_RECORD) / PAGE_SIZE) * PAGE_SIZE;
/** ringSlotBytes: one ring slot, a window of `w` bytes and its tail. */
export const ringSlotBytes = (w: number) => Math.ceil((w + TAIL_BYTES) / PAGE_SIZE) * PAGE_SIZE;
/** descBytes: one worker's descriptors for a window of `w` bytes, which holds at most w / 16 + 1 records (each has its 16-byte header). */
export const descBytes = (w: number) => Math.ceil(((Math.floor(w / 16) + 1) * DESC_BYTES) / PAGE_SIZE) * PAGE_SIZE;

/** Control words (i32) of the pass: ABORT is set by a worker that stopped the pass (a corrupt record), so none waits on. */
export const Ctl = { ABORT: 0, SLOTS: 4 } as const;
/** Per slot: the window (seq, 1-based) whose start is published, its start in the window and first record's index; the window whose descriptors are written; then per worker its next descriptor (recordSplit's), its count, and the last window it finished. */
export const SlotCtl = { START_SEQ: 0, START_OFF: 1, START_INDEX: 2, READY_SEQ: 3, PER_WORKER: 4 } as const;

/** slotWords: the control words of one slot for `workers` workers. */
export const slotWords = (workers: number) => SlotCtl.PER_WORKER + 3 * workers;
/** ctlBytes: the control area for `slots` slots and `workers` workers. */
export const ctlBytes = (slots: number, workers: number) => (Ctl.SLOTS + slots * slotWords(workers)) * 4;

/** WAIT_MS: the longest a worker waits for another's window (BPFBOX_STREAM_WAIT_MS overrides it); then it gives up with an error. */
export const WAIT_MS = Number(process.env.BPFBOX_STREAM_WAIT_MS) > 0 ? Number(process.env.BPFBOX_STREAM_WAIT_MS) : 60_000;

/** StreamAborted: another worker stopped the pass (its own request says why); this one returns what it has. */
export class StreamAborted extends Error {}

/**
 * waitSeq waits until the i32 at word `at` of `i32` is at least `seq`, or the pass is aborted
 * (the word at `abort`), for at most `ms`: Atomics.wait sleeps (no CPU) until a notify.
 */
export function waitSeq(i32: Int32Array, at: number, seq: number, abort: number, ms = WAIT_MS, what = `word ${at}`): void {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = Atomics.load(i32, at);
    if (v >= seq) return;
    if (Atomics.load(i32, abort)) throw new StreamAborted('aborted');
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`internal: streamed replay: waited ${ms} ms for ${what} (seq ${seq}, have ${v})`);
    // woken by publish's notify, or every 50 ms to look at the abort word again
    Atomics.wait(i32, at, v, Math.min(left, 50));
  }
}

/** publish stores `seq` at word `at` and wakes those waiting on it. */
export function publish(i32: Int32Array, at: number, seq: number): void {
  Atomics.store(i32, at, seq);
  Atomics.notify(i32, at);
}

/** StreamFile: a capture the workers read: a plain little-endian pcap of Ethernet frames. */
export interface StreamFile {
  readonly path: string;
  /** Its size (bytes) when the pass began. */
  readonly size: number;
  readonly snapLen: number;
  readonly nanosecond: boolean;
}

/** windowsOf: how many windows of `w` bytes a file of `size` bytes takes (at least one: its end is walked to say whether a record is cut off). */
export const windowsOf = (size: number, w: number) => Math.max(1, Math.ceil((size - 24) / w));
