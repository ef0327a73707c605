import { type AddressSpace, Perm, type Region } from '../vm/memory.js';
import { DESC_SIZE, Desc, readDesc, round8, writeDesc } from './descriptor.js';
import { Errno, fail } from '../uapi/errno.js';
import { MapFlag } from '../uapi/mapType.js';
import type { MapSpec } from './spec.js';

/**
 * MapLayout is what a map type needs mapped at creation: the bytes of its storage (and the
 * permission programs get on it), and the descriptor's aux fields it sets.
 */
export interface MapLayout {
  readonly storageBytes: number;
  readonly storagePerm?: number;
}

/**
 * BpfMap is a live map in the shared memory. Every bit of its state is in that memory, at
 * and behind its descriptor, so any thread can attach a view with `attachMap` and see the
 * same map. Two faces:
 *
 * - the program side (`lookup`, `update`, `delete`, `push`, `pop`, `peek`): addresses in the
 *   shared memory in, a value address or a negative errno out, as the helpers return them;
 * - the userspace side (`*Bytes`, `nextKey`): byte arrays in and out, throwing BpfErrno, as
 *   the bpf() door needs them. Per-CPU values are `round_up(value_size, 8)` per CPU.
 */
export abstract class BpfMap {
  readonly space: AddressSpace;
  /** Address of the descriptor: what `lddw BPF_PSEUDO_MAP_FD` loads. */
  readonly desc: number;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly ncpus: number;
  readonly storage: number;
  /** Scratch for userspace calls into the program side: a key and a value (control plane only). */
  #scratch = 0;

  constructor(space: AddressSpace, desc: number) {
    this.space = space;
    this.desc = desc;
    this.type = readDesc(space, desc, Desc.TYPE);
    this.keySize = readDesc(space, desc, Desc.KEY_SIZE);
    this.valueSize = readDesc(space, desc, Desc.VALUE_SIZE);
    this.maxEntries = readDesc(space, desc, Desc.MAX_ENTRIES);
    this.flags = readDesc(space, desc, Desc.FLAGS);
    this.ncpus = readDesc(space, desc, Desc.NCPUS);
    this.storage = readDesc(space, desc, Desc.STORAGE);
  }

  /** id is the map's kernel-wide id (set when the bpf() door registers it). */
  get id(): number {
    return readDesc(this.space, this.desc, Desc.ID);
  }

  /** count is the number of elements in use, for the types that keep one. */
  get count(): number {
    return Atomics.load(this.space.i32, (this.desc + Desc.COUNT) >> 2);
  }

  /** percpu tells whether userspace sees one value slot per CPU. */
  get percpu(): boolean {
    return false;
  }

  /** userValueSize: bytes of a value as userspace reads and writes it. */
  get userValueSize(): number {
    return this.percpu ? round8(this.valueSize) * this.ncpus : this.valueSize;
  }

  /** bytes is the memory the map occupies (bpftool's `memlock`). */
  get bytes(): number {
    return readDesc(this.space, this.desc, Desc.BYTES) || DESC_SIZE;
  }

  // ---- program side ---------------------------------------------------------------------

  /** lookup returns the address of the value for the key at `keyAddr` on `cpu`, or 0. */
  lookup(_keyAddr: number, _cpu: number): number {
    return 0;
  }

  /** update stores the value at `valueAddr` under the key at `keyAddr`: 0 or -errno. */
  update(_keyAddr: number, _valueAddr: number, _flags: number, _cpu: number): number {
    return -Errno.EINVAL;
  }

  /** delete removes the key at `keyAddr`: 0 or -errno. */
  delete(_keyAddr: number): number {
    return -Errno.EINVAL;
  }

  /** push adds the value at `valueAddr` (queue, stack, bloom filter): 0 or -errno. */
  push(_valueAddr: number, _flags: number): number {
    return -Errno.EINVAL;
  }

  /** pop copies the next value to `valueAddr` and removes it: 0 or -errno. */
  pop(_valueAddr: number): number {
    return -Errno.EINVAL;
  }

  /** peek copies the next value to `valueAddr` (bloom filter: tests it): 0 or -errno. */
  peek(_valueAddr: number): number {
    return -Errno.EINVAL;
  }

  /**
   * forEachElem calls `fn(keyAddr, valueAddr)` for each element, for `cpu`'s slot of a per-CPU
   * map, until it returns true (bpf_for_each_map_elem); it returns how many it visited. Array
   * keys are written at `keyScratch`. Types without elements to walk visit none.
   */
  forEachElem(_fn: (keyAddr: number, valueAddr: number) => boolean, _cpu: number, _keyScratch: number): number {
    return 0;
  }

  // ---- userspace side -------------------------------------------------------------------

  /** scratch returns the control plane's key and value buffers in the shared memory. */
  protected scratch(): { key: number; value: number } {
    if (this.#scratch === 0) {
      const r = this.space.map(round8(this.keySize) + Math.max(this.userValueSize, 8), Perm.RW, `map/${this.id}/scratch`);
      this.#scratch = r.start;
    }
    return { key: this.#scratch, value: this.#scratch + round8(this.keySize) };
  }

  /** scratchKeyFor copies a key into the scratch buffer and returns its address (tests, tools). */
  scratchKeyFor(key: Uint8Array): number {
    return this.putKey(key);
  }

  protected putKey(key: Uint8Array | null): number {
    if (key === null) return 0;
    if (key.length !== this.keySize) fail(Errno.EINVAL, `key is ${key.length} bytes, the map's are ${this.keySize}`);
    const { key: at } = this.scratch();
    this.space.u8.set(key, at);
    return at;
  }

  protected putValue(value: Uint8Array): number {
    if (value.length !== this.userValueSize) fail(Errno.EINVAL, `value is ${value.length} bytes, the map's are ${this.userValueSize}`);
    const { value: at } = this.scratch();
    this.space.u8.set(value, at);
    return at;
  }

  protected copyOut(addr: number, len: number): Uint8Array {
    return this.space.u8.slice(addr, addr + len);
  }

  /** lookupBytes returns the value for `key` (all CPUs' slots for a per-CPU map). */
  lookupBytes(key: Uint8Array): Uint8Array {
    const v = this.lookup(this.putKey(key), 0);
    if (v === 0) fail(Errno.ENOENT);
    return this.copyOut(v, this.valueSize);
  }

  /** updateBytes stores `value` under `key` with BPF_ANY, BPF_NOEXIST or BPF_EXIST. */
  updateBytes(key: Uint8Array, value: Uint8Array, flags: number): void {
    const k = this.putKey(key);
    const r = this.update(k, this.putValue(value), flags, -1);
    if (r < 0) fail(-r);
  }

  /** deleteBytes removes `key`. */
  deleteBytes(key: Uint8Array): void {
    const r = this.delete(this.putKey(key));
    if (r < 0) fail(-r);
  }

  /** nextKey returns the key after `key`, or the first for null or a missing key (ENOENT at the end). */
  nextKey(_key: Uint8Array | null): Uint8Array {
    return fail(Errno.EINVAL);
  }

  /** lookupAndDeleteBytes: pop for queues and stacks; lookup then delete for hash maps. */
  lookupAndDeleteBytes(key: Uint8Array | null): Uint8Array {
    if (key === null || this.keySize === 0) {
      const { value } = this.scratch();
      const r = this.pop(value);
      if (r < 0) fail(-r);
      return this.copyOut(value, this.valueSize);
    }
    return fail(Errno.ENOTSUPP);
  }

  /** pushBytes, popBytes and peekBytes are the queue, stack and bloom filter commands. */
  pushBytes(value: Uint8Array, flags: number): void {
    const r = this.push(this.putValue(value), flags);
    if (r < 0) fail(-r);
  }

  peekBytes(value?: Uint8Array): Uint8Array {
    const { value: at } = this.scratch();
    if (value) this.putValue(value);
    const r = this.peek(at);
    if (r < 0) fail(-r);
    return this.copyOut(at, this.valueSize);
  }

  /** entries iterates the map's keys and values as userspace sees them. */
  *entries(): Generator<[Uint8Array, Uint8Array]> {
    let key: Uint8Array | null = null;
    for (;;) {
      let next: Uint8Array;
      try {
        next = this.nextKey(key);
      } catch {
        return;
      }
      let value: Uint8Array;
      try {
        value = this.lookupBytes(next);
      } catch {
        key = next;
        continue;
      }
      yield [next, value];
      key = next;
    }
  }

  /** readOnlyForPrograms: BPF_F_RDONLY_PROG. */
  get readOnlyForPrograms(): boolean {
    return (this.flags & MapFlag.BPF_F_RDONLY_PROG) !== 0;
  }
}

/**
 * createDescriptor maps a map's descriptor and storage and fills the descriptor; the
 * caller sets the aux fields its type needs.
 */
export function createDescriptor(space: AddressSpace, spec: MapSpec, ncpus: number, layout: MapLayout): { desc: number; storage: Region } {
  const name = spec.name || 'anon';
  let d: Region;
  let storage: Region;
  try {
    d = space.map(DESC_SIZE, Perm.READ, `map/${name}/desc`);
    storage = space.map(Math.max(layout.storageBytes, 8), layout.storagePerm ?? Perm.RW, `map/${name}`);
  } catch (e) {
    // the shared memory is full or cannot grow: what the kernel says when it cannot allocate
    if (e instanceof RangeError) fail(Errno.ENOMEM, `map ${name}: ${e.message}`);
    throw e;
  }
  const fields: [number, number][] = [
    [Desc.TYPE, spec.type],
    [Desc.KEY_SIZE, spec.keySize],
    [Desc.VALUE_SIZE, spec.valueSize],
    [Desc.MAX_ENTRIES, spec.maxEntries],
    [Desc.FLAGS, spec.flags ?? 0],
    [Desc.STORAGE, storage.start],
    [Desc.NCPUS, ncpus],
    [Desc.MAP_EXTRA, spec.mapExtra ?? 0],
    [Desc.BYTES, DESC_SIZE + storage.size],
  ];
  for (const [f, v] of fields) writeDesc(space, d.start, f, v);
  return { desc: d.start, storage };
}
