import type { AddressSpace } from '../vm/memory.js';
import { BpfMap, createDescriptor } from './bpfMap.js';
import { Desc, readDesc, round8, writeDesc } from './descriptor.js';
import { Errno, fail } from '../uapi/errno.js';
import { SpinLock, withLock } from './lock.js';
import { MapType, UpdateFlag } from '../uapi/mapType.js';
import type { MapSpec } from './spec.js';

/**
 * QueueStack is `BPF_MAP_TYPE_QUEUE` (FIFO) and `BPF_MAP_TYPE_STACK` (LIFO): a ring of
 * max_entries + 1 slots under the map lock (kernel/bpf/queue_stack_maps.c). Push on a full
 * map gives E2BIG, unless BPF_EXIST, which drops the oldest element; pop and peek on an
 * empty map give ENOENT. Head and tail live in the descriptor's aux words.
 */
export class QueueStack extends BpfMap {
  readonly #size: number;
  readonly #slot: number;
  readonly #lock: SpinLock;
  readonly #stack: boolean;

  constructor(space: AddressSpace, desc: number) {
    super(space, desc);
    this.#size = this.maxEntries + 1;
    this.#slot = round8(this.valueSize);
    this.#lock = new SpinLock(space.i32, desc + Desc.LOCK);
    this.#stack = this.type === MapType.BPF_MAP_TYPE_STACK;
  }

  static create(space: AddressSpace, spec: MapSpec, ncpus: number): QueueStack {
    const { desc } = createDescriptor(space, spec, ncpus, { storageBytes: (spec.maxEntries + 1) * round8(spec.valueSize) });
    return new QueueStack(space, desc);
  }

  #get(f: number): number {
    return readDesc(this.space, this.desc, f);
  }

  #put(f: number, v: number): void {
    writeDesc(this.space, this.desc, f, v);
  }

  override push(valueAddr: number, flags: number): number {
    if (flags !== UpdateFlag.BPF_ANY && flags !== UpdateFlag.BPF_EXIST) return -Errno.EINVAL;
    return withLock(this.#lock, () => {
      let head = this.#get(Desc.AUX0);
      let tail = this.#get(Desc.AUX1);
      if ((head + 1) % this.#size === tail) {
        if (flags !== UpdateFlag.BPF_EXIST) return -Errno.E2BIG;
        tail = (tail + 1) % this.#size; // drop the oldest
        this.#put(Desc.AUX1, tail);
      }
      const at = this.storage + head * this.#slot;
      this.space.u8.copyWithin(at, valueAddr, valueAddr + this.valueSize);
      head = (head + 1) % this.#size;
      this.#put(Desc.AUX0, head);
      return 0;
    });
  }

  #take(valueAddr: number, remove: boolean): number {
    return withLock(this.#lock, () => {
      const head = this.#get(Desc.AUX0);
      const tail = this.#get(Desc.AUX1);
      if (head === tail) return -Errno.ENOENT;
      const i = this.#stack ? (head + this.#size - 1) % this.#size : tail;
      const at = this.storage + i * this.#slot;
      this.space.u8.copyWithin(valueAddr, at, at + this.valueSize);
      if (remove) {
        if (this.#stack) this.#put(Desc.AUX0, i);
        else this.#put(Desc.AUX1, (tail + 1) % this.#size);
      }
      return 0;
    });
  }

  override pop(valueAddr: number): number {
    return this.#take(valueAddr, true);
  }

  override peek(valueAddr: number): number {
    return this.#take(valueAddr, false);
  }

  /** count: elements queued. */
  override get count(): number {
    return (this.#get(Desc.AUX0) - this.#get(Desc.AUX1) + this.#size) % this.#size;
  }

  /** values returns the values oldest first (the order they were pushed), without removing them. */
  values(): Uint8Array[] {
    const head = this.#get(Desc.AUX0);
    const tail = this.#get(Desc.AUX1);
    const out: Uint8Array[] = [];
    for (let i = tail; i !== head; i = (i + 1) % this.#size) out.push(this.copyOut(this.storage + i * this.#slot, this.valueSize));
    return out;
  }

  // userspace: update = push, lookup = peek, lookup-and-delete = pop; no keys to walk
  override updateBytes(key: Uint8Array | null, value: Uint8Array, flags: number): void {
    if (key !== null && key.length !== 0) fail(Errno.EINVAL);
    this.pushBytes(value, flags);
  }

  override lookupBytes(): Uint8Array {
    return this.peekBytes();
  }

  override deleteBytes(): void {
    fail(Errno.EINVAL);
  }

  override nextKey(): Uint8Array {
    return fail(Errno.EINVAL);
  }
}
