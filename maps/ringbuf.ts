import type { AddressSpace } from '../vm/memory.js';
import { BpfMap, createDescriptor } from './bpfMap.js';
import { Desc, readDesc, writeDesc } from './descriptor.js';
import { Errno, fail } from '../uapi/errno.js';
import { SpinLock, withLock } from './lock.js';
import type { MapSpec } from './spec.js';
import { BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT, BPF_RINGBUF_HDR_SZ } from '../uapi/ringbuf.js';

/**
 * ringbufSubmit publishes (or discards) the record whose data is at `dataAddr`: it clears
 * the busy bit of the header 8 bytes before. bpf_ringbuf_submit gets only that pointer.
 */
export function ringbufSubmit(space: AddressSpace, dataAddr: number, discard: boolean): void {
  const hdr = (dataAddr - BPF_RINGBUF_HDR_SZ) >> 2;
  const len = Atomics.load(space.i32, hdr) & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
  Atomics.store(space.i32, hdr, discard ? len | BPF_RINGBUF_DISCARD_BIT : len);
}

/** READER_SPINS: how many times a reserve drains a full ring whose oldest record another CPU is still writing before it fails. */
const READER_SPINS = 1_000_000;

/**
 * RingBuf is `BPF_MAP_TYPE_RINGBUF`: a power-of-two data area shared by all CPUs.
 * Programs reserve a record (under the map lock), fill it in place and submit or discard
 * it; a userspace consumer reads submitted records in order.
 *
 *   record: [len | BUSY | DISCARD : u32][pad : u32][data, len bytes, padded to 8]
 *   positions (descriptor aux): AUX0 consumer, AUX1 producer, both counting bytes forever
 *
 * The kernel maps the data pages twice so a record may wrap; bpfbox cannot alias memory, so
 * a record that would wrap is preceded by a discarded filler record up to the end of the
 * area. Programs see the same contiguous record; the area holds slightly less at the wrap.
 */
export class RingBuf extends BpfMap {
  readonly #lock: SpinLock;
  readonly #mask: number;
  /**
   * reader, when set, takes the submitted records when a reserve finds no room, as a consumer
   * polling the ring would have taken them by then; the reserve then tries again. Without it a
   * full ring fails the reserve (NULL to the program), as the kernel's does.
   */
  reader?: (records: Uint8Array[]) => void;

  constructor(space: AddressSpace, desc: number) {
    super(space, desc);
    this.#lock = new SpinLock(space.i32, desc + Desc.LOCK);
    this.#mask = this.maxEntries - 1;
  }

  static create(space: AddressSpace, spec: MapSpec, ncpus: number): RingBuf {
    const { desc } = createDescriptor(space, spec, ncpus, { storageBytes: spec.maxEntries });
    return new RingBuf(space, desc);
  }

  get #consumer(): number {
    return readDesc(this.space, this.desc, Desc.AUX0);
  }

  get #producer(): number {
    return readDesc(this.space, this.desc, Desc.AUX1);
  }

  /** reserve returns the address of `size` bytes for a record, or 0 when there is no room. */
  reserve(size: number): number {
    // an empty record is a record (__bpf_ringbuf_reserve): its header alone
    if (size < 0 || size > this.maxEntries / 2) return 0;
    const total = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    return withLock(this.#lock, () => {
      let prod = this.#producer;
      const off = prod & this.#mask;
      const filler = off + total > this.maxEntries ? this.maxEntries - off : 0;
      // a reader drains the ring; a record another CPU still writes holds it up, as it holds up the kernel's consumer: wait for it, boundedly
      for (let spins = 0; prod - this.#consumer + filler + total > this.maxEntries; spins++) {
        if (!this.reader || spins > READER_SPINS) return 0;
        this.reader(this.consume());
      }
      const dv = this.space.view;
      if (filler) {
        dv.setUint32(this.storage + off, ((filler - BPF_RINGBUF_HDR_SZ) | BPF_RINGBUF_DISCARD_BIT) >>> 0, true);
        prod += filler;
      }
      const at = this.storage + (prod & this.#mask);
      dv.setUint32(at, (size | BPF_RINGBUF_BUSY_BIT) >>> 0, true);
      dv.setUint32(at + 4, 0, true);
      writeDesc(this.space, this.desc, Desc.AUX1, prod + total);
      return at + BPF_RINGBUF_HDR_SZ;
    });
  }

  /** submit publishes a reserved record; discard drops it. */
  submit(dataAddr: number, discard = false): void {
    ringbufSubmit(this.space, dataAddr, discard);
  }

  /** output copies `size` bytes at `dataAddr` into a new record (bpf_ringbuf_output): 0 or -errno. */
  output(dataAddr: number, size: number): number {
    const at = this.reserve(size);
    if (at === 0) return -Errno.EAGAIN;
    this.space.u8.copyWithin(at, dataAddr, dataAddr + size);
    this.submit(at);
    return 0;
  }

  /** available: bytes reserved and not yet consumed (bpf_ringbuf_query BPF_RB_AVAIL_DATA). */
  get available(): number {
    return this.#producer - this.#consumer;
  }

  /** consume returns the submitted records in order, stopping at one still being written. */
  consume(limit = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    let cons = this.#consumer;
    const prod = this.#producer;
    while (cons < prod && out.length < limit) {
      const at = this.storage + (cons & this.#mask);
      const hdr = Atomics.load(this.space.i32, at >> 2);
      if (hdr & BPF_RINGBUF_BUSY_BIT) break;
      const len = hdr & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
      if (!(hdr & BPF_RINGBUF_DISCARD_BIT)) out.push(this.space.u8.slice(at + 8, at + 8 + len));
      cons += (len + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    }
    writeDesc(this.space, this.desc, Desc.AUX0, cons);
    return out;
  }

  /** take is consume under the map lock: for a consumer beside producers that may call `reader` from a reserve. */
  take(): Uint8Array[] {
    return withLock(this.#lock, () => this.consume());
  }

  override lookupBytes(): Uint8Array {
    return fail(Errno.ENOTSUPP);
  }

  override updateBytes(): void {
    fail(Errno.ENOTSUPP);
  }

  override deleteBytes(): void {
    fail(Errno.ENOTSUPP);
  }

  override nextKey(): Uint8Array {
    return fail(Errno.ENOTSUPP);
  }
}
