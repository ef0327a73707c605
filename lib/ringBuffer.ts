import { setTimeout as sleep } from 'node:timers/promises';
import type { Kernel } from '../kernel/kernel.js';
import { RingBuf } from '../maps/ringbuf.js';
import { Errno } from '../uapi/errno.js';
import type { BpfMap } from './bpfMap.js';
import { BpfCallError } from './bpfCallError.js';

/** RingBufferOptions: when iteration ends (an abort signal, or once the ring is empty) and how often an empty ring is polled. */
export interface RingBufferOptions {
  readonly signal?: AbortSignal;
  /** End the iteration when the ring has nothing more (records submitted so far, then done). */
  readonly untilEmpty?: boolean;
  /** Milliseconds between polls of an empty ring; default 10. */
  readonly pollMs?: number;
}

/**
 * RingBufferReader consumes a BPF_MAP_TYPE_RINGBUF map (libbpf's ring_buffer__poll / consume;
 * cilium/ebpf's ringbuf.Reader): `for await (const record of reader)` yields each submitted
 * record's bytes in order, skipping discarded ones. While it is open, a program whose reserve
 * finds the ring full has it drained into this reader first, as a polling consumer would have
 * drained it, so no record is lost. `close()` ends the iteration.
 */
export class RingBufferReader implements AsyncIterable<Uint8Array> {
  readonly #ring: RingBuf;
  /** The ring as each CPU's runtime sees it (where a program's reserve runs): the drain is set on these. */
  readonly #views: RingBuf[] = [];
  readonly #options: RingBufferOptions;
  readonly #pending: Uint8Array[] = [];
  #closed = false;

  constructor(map: BpfMap, kernel: Kernel, options: RingBufferOptions = {}) {
    const ring = kernel.process.mapOf(map.fd).map.map;
    if (!(ring instanceof RingBuf)) throw new BpfCallError(`ring buffer ${map.name}`, Errno.EINVAL, 'not a BPF_MAP_TYPE_RINGBUF map');
    this.#ring = ring;
    this.#options = options;
    for (let cpu = 0; cpu < kernel.ncpus; cpu++) {
      const v = kernel.runtime(cpu).views.get(ring.desc);
      if (!(v instanceof RingBuf)) continue;
      if (v.reader) throw new BpfCallError(`ring buffer ${map.name}`, Errno.EBUSY, 'another reader has it');
      this.#views.push(v);
    }
    for (const v of this.#views) v.reader = (records) => this.#pending.push(...records);
  }

  /** available: bytes submitted or reserved and not yet consumed (BPF_RB_AVAIL_DATA). */
  get available(): number {
    return this.#ring.available;
  }

  /** consume takes every record submitted so far, in order (ring_buffer__consume). */
  consume(): Uint8Array[] {
    return [...this.#pending.splice(0), ...this.#ring.take()];
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const o = this.#options;
    while (!this.#closed && !o.signal?.aborted) {
      const records = this.consume();
      for (const r of records) yield r;
      if (records.length) continue;
      if (o.untilEmpty) return;
      try {
        await sleep(o.pollMs ?? 10, undefined, o.signal ? { signal: o.signal } : undefined);
      } catch {
        return; // aborted
      }
    }
  }

  /** close detaches the reader; records left in the ring stay there. */
  close(): void {
    this.#closed = true;
    for (const v of this.#views.splice(0)) v.reader = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
