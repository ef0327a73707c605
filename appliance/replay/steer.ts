import { MAX_PACKET } from '../../hooks/runtime.js';
import { type AddressSpace, Perm, type Region } from '../../vm/memory.js';
import { DESC_BYTES } from '../../hooks/xdpBatch.js';
import { In, IN_FIELDS } from './protocol.js';
import { type Source, WINDOW, type Window } from './source.js';

/** Queue memory is taken from the address space in chunks of this many bytes. */
const CHUNK = 32 << 20;

/** Bump hands out contiguous runs of bytes from chunks of a worker's queue memory. */
class Bump {
  #region?: Region;
  #used = 0;
  #chunks = 0;
  readonly #mem: AddressSpace;
  readonly #name: string;

  constructor(mem: AddressSpace, name: string) {
    this.#mem = mem;
    this.#name = name;
  }

  take(n: number): number {
    if (!this.#region || this.#used + n > this.#region.size) {
      this.#region = this.#mem.map(Math.max(CHUNK, n), Perm.RW, `${this.#name}/${this.#chunks++}`);
      this.#used = 0;
    }
    const at = this.#region.start + this.#used;
    // the next packet starts on 8 bytes, as a driver's buffers do
    this.#used += (n + 7) & ~7;
    return at;
  }
}

/**
 * steer reads the captures to their end before a pass and gives each packet to the worker
 * (emulated CPU) its flow hashes to, as a NIC with RSS does before a CPU sees a packet: each
 * worker's packets are copied, back to back, into receive-queue memory of its own, and its
 * descriptors with them. The windows it returns (capture order, tallied) only need running:
 * a worker then touches no other worker's packets, and the main thread no packet at all.
 */
export function steer(source: Source, mem: AddressSpace, bufs: readonly Region[][], staging: readonly Region[], skb: boolean): Window[] {
  const n = bufs[0].length;
  const packets = Array.from({ length: n }, (_, w) => new Bump(mem, `rxq/cpu${w}`));
  const descs = Array.from({ length: n }, (_, w) => new Bump(mem, `rxq/cpu${w}/desc`));
  const windows: Window[] = [];
  for (let set = 0; ; set = 1 - set) {
    const win = source.fill(bufs[set], staging[set], skb, WINDOW, true);
    if (!win.count) return windows;
    // (the views are read again after each take: taking may grow the memory)
    for (let w = 0; w < n; w++) {
      const k = win.batchLen[w];
      if (!k) continue;
      const to = descs[w].take(k * DESC_BYTES);
      mem.u8.copyWithin(to, win.desc[w], win.desc[w] + k * DESC_BYTES);
      win.desc[w] = to;
      for (let d = to >> 2, end = d + k * IN_FIELDS; d < end; d += IN_FIELDS) {
        let i32 = mem.i32;
        const len = i32[d + In.LEN];
        const src = i32[d + In.SRC] || i32[d + In.HARD_START] + 256;
        if (len > MAX_PACKET) {
          // longer than a CPU's frame: it keeps a slot (headroom, the packet, room to grow) in the queue memory
          const room = i32[d + In.ROOM] || Math.ceil((256 + len + 4096 + 320) / 4096) * 4096;
          const slot = packets[w].take(room);
          mem.u8.copyWithin(slot + 256, src, src + len);
          i32 = mem.i32;
          i32[d + In.HARD_START] = slot;
          i32[d + In.ROOM] = room;
          i32[d + In.SRC] = 0;
          continue;
        }
        const at = packets[w].take(len);
        mem.u8.copyWithin(at, src, src + len);
        i32 = mem.i32;
        i32[d + In.SRC] = at;
        i32[d + In.HARD_START] = 0;
        i32[d + In.ROOM] = 0;
      }
    }
    windows.push(win);
  }
}
