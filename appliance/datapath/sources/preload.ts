import { UserError } from '../../../uapi/userError.js';
import { MAX_PACKET } from '../../../hooks/runtime.js';
import { type AddressSpace, PAGE_SIZE, Perm, type Region } from '../../../vm/memory.js';
import { DESC_BYTES, DESC_WORDS, DescWord } from '../../../vm/jit/xdpBatchDriver.js';
import { XDP_PACKET_HEADROOM } from '../../../uapi/xdp.js';
import { type Source, type Window, slotBytes } from './fileSource.js';

/** Queue memory is taken from the address space in chunks of this many bytes. */
const CHUNK = 32 << 20;

/**
 * Steered packets go to the workers this many (about) at a time: a request per window would
 * cost the main thread and each worker a message, a tally and its garbage every 8192 packets,
 * which on a machine with a core per worker takes time from the workers themselves.
 */
export const RUN_PACKETS = 1 << 18;

/**
 * Bump hands out contiguous runs of bytes from chunks of a worker's queue memory. The chunks
 * stay mapped: `reset` hands them out again from the first (the next pass's packets).
 */
class Bump {
  readonly #chunks: Region[] = [];
  #at = -1;
  #used = 0;
  /** The size of new chunks (CHUNK, or less for small captures). */
  chunk = CHUNK;
  readonly #align: number;
  readonly #mem: AddressSpace;
  readonly #name: string;

  constructor(mem: AddressSpace, name: string, align: number) {
    this.#mem = mem;
    this.#name = name;
    this.#align = align;
  }

  reset(): void {
    this.#at = -1;
  }

  take(n: number): number {
    let r = this.#chunks[this.#at];
    if (!r || this.#used + n > r.size) {
      // the next chunk kept from an earlier pass if it holds n, else a new one in its place
      this.#at++;
      this.#used = 0;
      r = this.#chunks[this.#at];
      if (!r || r.size < n) {
        if (r) this.#mem.unmap(r);
        const size = Math.max(this.chunk, n);
        if (size > this.#mem.unmapped) {
          throw new UserError(
            `--preload: the captures do not fit in the address space (${this.#name} needs another ${size >> 20} MiB, ${this.#mem.unmapped >> 20} MiB are left); replay without --preload`,
          );
        }
        this.#chunks[this.#at] = r = this.#mem.map(size, Perm.RW, `${this.#name}/${this.#at}`);
      }
    }
    const at = r.start + this.#used;
    // the next run starts on `align` bytes (packets: a cache line, as a driver's buffers do)
    this.#used += (n + this.#align - 1) & -this.#align;
    return at;
  }
}

/** RxQueues: every worker's receive-queue memory for steered packets and their descriptors, reused pass after pass. */
export class RxQueues {
  readonly packets: Bump[];
  readonly descs: Bump[];

  constructor(mem: AddressSpace, workers: number) {
    this.packets = Array.from({ length: workers }, (_, w) => new Bump(mem, `rxq/cpu${w}`, 64));
    this.descs = Array.from({ length: workers }, (_, w) => new Bump(mem, `rxq/cpu${w}/desc`, DESC_BYTES));
  }

  /** reset starts a pass over captures of `bytes` in all: chunks mapped from now on are no bigger than it needs. */
  reset(bytes: number): void {
    const chunk = Math.min(CHUNK, Math.max(1 << 20, Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE));
    for (const b of [...this.packets, ...this.descs]) {
      b.reset();
      b.chunk = chunk;
    }
  }
}

/**
 * steer reads the captures to their end before a pass and gives each packet to the worker
 * (emulated CPU) its flow hashes to, as a NIC with RSS does before a CPU sees a packet: each
 * worker's packets are copied, back to back, into receive-queue memory of its own, and its
 * descriptors with them. The windows it returns (capture order, tallied) only need running:
 * a worker then touches no other worker's packets, and the main thread no packet at all.
 * Windows whose descriptors lie back to back for every worker are joined, up to RUN_PACKETS.
 */
export function steer(
  source: Source,
  mem: AddressSpace,
  q: RxQueues,
  bufs: readonly Region[][],
  staging: readonly Region[],
  skb: boolean,
): Window[] {
  const n = bufs[0].length;
  q.reset(source.size);
  const { packets, descs } = q;
  const windows: Window[] = [];
  for (let set = 0; ; set = 1 - set) {
    const win = source.fill(bufs[set], staging[set], { skb, tally: true });
    if (!win.count) return join(windows, RUN_PACKETS);
    // (the views are read again after each take: taking may grow the memory)
    for (let w = 0; w < n; w++) {
      const k = win.batchLen[w];
      if (!k) continue;
      const to = descs[w].take(k * DESC_BYTES);
      mem.u8.copyWithin(to, win.desc[w], win.desc[w] + k * DESC_BYTES);
      win.desc[w] = to;
      for (let d = to >> 2, end = d + k * DESC_WORDS; d < end; d += DESC_WORDS) {
        let i32 = mem.i32;
        const len = i32[d + DescWord.LEN];
        const src = i32[d + DescWord.SRC] || i32[d + DescWord.HARD_START] + XDP_PACKET_HEADROOM;
        if (len > MAX_PACKET) {
          // longer than a CPU's frame: it keeps a slot (headroom, the packet, room to grow) in the queue memory
          const room = i32[d + DescWord.ROOM] || slotBytes(len);
          const slot = packets[w].take(room);
          mem.u8.copyWithin(slot + XDP_PACKET_HEADROOM, src, src + len);
          i32 = mem.i32;
          i32[d + DescWord.HARD_START] = slot;
          i32[d + DescWord.ROOM] = room;
          i32[d + DescWord.SRC] = 0;
          continue;
        }
        const at = packets[w].take(len);
        mem.u8.copyWithin(at, src, src + len);
        i32 = mem.i32;
        i32[d + DescWord.SRC] = at;
        i32[d + DescWord.HARD_START] = 0;
        i32[d + DescWord.ROOM] = 0;
      }
    }
    windows.push(win);
  }
}

/**
 * join merges consecutive tallied windows into ones of at most `max` packets (a single window
 * may be larger) wherever each worker's descriptors continue where the previous window's ended.
 */
export function join(windows: readonly Window[], max: number): Window[] {
  const out: Window[] = [];
  let cur: Window | undefined;
  for (const win of windows) {
    const follows =
      cur !== undefined &&
      cur.count + win.count <= max &&
      win.desc.every((d, w) => !win.batchLen[w] || !cur!.batchLen[w] || d === cur!.desc[w] + cur!.batchLen[w] * DESC_BYTES);
    if (!follows) {
      cur = { ...win, desc: [...win.desc], batchLen: [...win.batchLen] };
      out.push(cur);
      continue;
    }
    const c = cur!;
    win.desc.forEach((d, w) => {
      if (!c.batchLen[w]) c.desc[w] = d;
      c.batchLen[w] += win.batchLen[w];
    });
    c.count += win.count;
  }
  return out;
}
