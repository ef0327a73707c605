import type { BpfProcess } from '../kernel/process.js';
import type { MapObject } from '../kernel/objects.js';
import type { MapSpec } from '../maps/spec.js';
import type { TypeDesc } from '../maps/typeDesc.js';
import { Errno } from '../uapi/errno.js';
import { UpdateFlag } from '../uapi/mapType.js';
import { BpfCallError, check } from './bpfCallError.js';
import { type Typed, type TypedInput, decodeValue, encodeValue } from './typedValue.js';

/** MapKey: a key as bytes, or where BTF describes the key type, as a typed value (`{ ethertype: 0x800, ipproto: 17 }`). */
export type MapKey = Uint8Array | TypedInput;
/** MapValue: a value as lookups give it: typed where BTF describes it, else bytes; a per-CPU map's as one per CPU. */
export type MapValue = Uint8Array | Typed;

/** BatchResult: the elements one batch call moved, and the position to continue from (undefined: done). */
export interface BatchResult<V> {
  readonly keys: MapValue[];
  readonly values: V[];
  readonly next?: Uint8Array;
}

const round8 = (n: number) => (n + 7) & ~7;

/**
 * BpfMap is a live map (cilium/ebpf's Map, libbpf's bpf_map__lookup_elem and friends): every call
 * goes through the bpf() door of its process, so it answers as the door does. Keys and values
 * are bytes, or typed values where the map's BTF describes them (the rendering `map dump`
 * uses); a per-CPU map's value is an array with one value per possible CPU. `close()` drops
 * this fd (the map lives on while a program or a pin holds it).
 */
export class BpfMap<V = MapValue> {
  readonly name: string;
  readonly #p: BpfProcess;
  readonly #obj: MapObject;
  #fd: number;

  constructor(p: BpfProcess, fd: number, name?: string) {
    this.#p = p;
    this.#fd = fd;
    this.#obj = p.mapOf(fd).map;
    this.name = name ?? this.#obj.spec.name ?? `id ${this.#obj.id}`;
  }

  /** fd: this map's file descriptor in its process (for the raw bpf() door). */
  get fd(): number {
    if (this.#fd < 0) throw new BpfCallError(`map ${this.name}`, Errno.EBADF, 'closed');
    return this.#fd;
  }
  get id(): number {
    return this.#obj.id;
  }
  /** spec: the map as it was created (type, sizes, max_entries, flags, BTF types). */
  get spec(): MapSpec {
    return this.#obj.spec;
  }
  /** percpu: whether the map keeps one value per CPU (values are then arrays of `ncpus`). */
  get percpu(): boolean {
    return this.#obj.map.percpu;
  }
  get ncpus(): number {
    return this.#obj.map.ncpus;
  }
  get keyType(): TypeDesc | undefined {
    return this.#obj.spec.btf?.key;
  }
  get valueType(): TypeDesc | undefined {
    return this.#obj.spec.btf?.value;
  }

  /** keyBytes encodes a key (bytes pass through; a typed key needs the map's BTF key type). */
  keyBytes(key: MapKey | null): Uint8Array | null {
    if (key === null || key instanceof Uint8Array) return key;
    if (!this.keyType) throw new BpfCallError(`map ${this.name}`, Errno.EINVAL, 'the map has no BTF key type: give the key as bytes');
    return encodeValue(this.keyType, key as TypedInput, 'key');
  }

  /** valueBytes encodes a value; for a per-CPU map one per CPU (or one for all CPUs), packed as the kernel wants them (8-byte slots). */
  valueBytes(value: TypedInput): Uint8Array {
    const one = (v: TypedInput) => {
      if (v instanceof Uint8Array) return v;
      if (!this.valueType)
        throw new BpfCallError(`map ${this.name}`, Errno.EINVAL, 'the map has no BTF value type: give the value as bytes');
      return encodeValue(this.valueType, v, 'value');
    };
    if (!this.percpu) return one(value);
    const step = round8(this.spec.valueSize);
    const out = new Uint8Array(step * this.ncpus);
    // an array is one value per CPU, unless the value type is itself an array and this one is not of arrays
    const per = Array.isArray(value) && (this.valueType?.k !== 'array' || Array.isArray(value[0]) || value[0] instanceof Uint8Array);
    for (let c = 0; c < this.ncpus; c++) out.set(one(per ? (value as readonly TypedInput[])[c] : value), c * step);
    return out;
  }

  /** decodeKey: a key's bytes as the caller sees keys (typed where BTF describes them). */
  decodeKey(bytes: Uint8Array): MapValue {
    return this.keyType ? decodeValue(this.keyType, bytes) : bytes;
  }

  /** decodeValue: a lookup's value buffer as the caller sees values (per CPU for a per-CPU map). */
  decodeValue(bytes: Uint8Array): V {
    const one = (b: Uint8Array): MapValue => (this.valueType ? decodeValue(this.valueType, b) : b);
    if (!this.percpu) return one(bytes) as V;
    const step = round8(this.spec.valueSize);
    return Array.from({ length: this.ncpus }, (_, c) => one(bytes.slice(c * step, c * step + this.spec.valueSize))) as V;
  }

  /** lookupBytes: BPF_MAP_LOOKUP_ELEM's value buffer for `key` (per-CPU values in 8-byte slots), or undefined (ENOENT). */
  lookupBytes(key: MapKey | null): Uint8Array | undefined {
    const value = new Uint8Array(this.#obj.map.userValueSize);
    const r = this.#p.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: this.fd, key: this.keyBytes(key), value });
    if (r === -Errno.ENOENT) return undefined;
    check(r, `map ${this.name}: lookup`);
    return value;
  }

  /** lookup: the value at `key`, or undefined when there is none (bpf_map_lookup_elem). */
  lookup(key: MapKey | null): V | undefined {
    const b = this.lookupBytes(key);
    return b && this.decodeValue(b);
  }

  /** update writes `value` at `key` (flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK). */
  update(key: MapKey | null, value: TypedInput, flags: number = UpdateFlag.BPF_ANY): void {
    check(
      this.#p.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: this.fd, key: this.keyBytes(key), value: this.valueBytes(value), flags }),
      `map ${this.name}: update`,
    );
  }

  /** delete removes `key`: true if it was there, false on ENOENT. */
  delete(key: MapKey): boolean {
    const r = this.#p.bpf('BPF_MAP_DELETE_ELEM', { map_fd: this.fd, key: this.keyBytes(key) });
    if (r === -Errno.ENOENT) return false;
    check(r, `map ${this.name}: delete`);
    return true;
  }

  /** keyBytesAll walks BPF_MAP_GET_NEXT_KEY from the start: every key's bytes. */
  *keysBytes(): Generator<Uint8Array> {
    let key: Uint8Array | null = null;
    for (;;) {
      const next = new Uint8Array(this.spec.keySize);
      const r = this.#p.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: this.fd, key, next_key: next });
      if (r === -Errno.ENOENT) return;
      check(r, `map ${this.name}: next key`);
      yield next;
      key = next;
    }
  }

  /** keys: every key, in the map's order (bpf_map_get_next_key from NULL). */
  *keys(): Generator<MapValue> {
    for (const k of this.keysBytes()) yield this.decodeKey(k);
  }

  /** entries: every key with its value (an element deleted between the two calls is skipped, as bpftool does). */
  *entries(): Generator<[MapValue, V]> {
    for (const k of this.keysBytes()) {
      const v = this.lookupBytes(k);
      if (v) yield [this.decodeKey(k), this.decodeValue(v)];
    }
  }

  /**
   * lookupBatch: up to `count` elements from position `from` (BPF_MAP_LOOKUP_BATCH); `next` is
   * where to go on, undefined once the map is done. `andDelete`: BPF_MAP_LOOKUP_AND_DELETE_BATCH.
   */
  lookupBatch(count: number, from?: Uint8Array, options: { andDelete?: boolean } = {}): BatchResult<V> {
    const keys = new Uint8Array(count * this.spec.keySize);
    const vsize = this.#obj.map.userValueSize;
    const values = new Uint8Array(count * vsize);
    const out_batch = new Uint8Array(Math.max(this.spec.keySize, 4));
    const attr = { map_fd: this.fd, in_batch: from ?? null, out_batch, keys, values, count };
    const r = this.#p.bpf(options.andDelete ? 'BPF_MAP_LOOKUP_AND_DELETE_BATCH' : 'BPF_MAP_LOOKUP_BATCH', attr);
    if (r < 0 && r !== -Errno.ENOENT) check(r, `map ${this.name}: lookup batch`);
    const ks = this.spec.keySize;
    return {
      keys: Array.from({ length: attr.count }, (_, i) => this.decodeKey(keys.slice(i * ks, (i + 1) * ks))),
      values: Array.from({ length: attr.count }, (_, i) => this.decodeValue(values.slice(i * vsize, (i + 1) * vsize))),
      ...(r === -Errno.ENOENT ? {} : { next: out_batch }),
    };
  }

  /** updateBatch writes the elements in one BPF_MAP_UPDATE_BATCH; returns how many were written. */
  updateBatch(keys: readonly MapKey[], values: readonly TypedInput[], flags: number = UpdateFlag.BPF_ANY): number {
    if (keys.length !== values.length)
      throw new BpfCallError(`map ${this.name}: update batch`, Errno.EINVAL, 'as many keys as values are needed');
    const attr = {
      map_fd: this.fd,
      keys: concat(keys.map((k) => this.keyBytes(k)!)),
      values: concat(values.map((v) => this.valueBytes(v))),
      count: keys.length,
      elem_flags: flags,
    };
    check(this.#p.bpf('BPF_MAP_UPDATE_BATCH', attr), `map ${this.name}: update batch`);
    return attr.count;
  }

  /** deleteBatch removes the keys in one BPF_MAP_DELETE_BATCH (ENOENT for a missing one, after those before it); returns how many. */
  deleteBatch(keys: readonly MapKey[]): number {
    const attr = { map_fd: this.fd, keys: concat(keys.map((k) => this.keyBytes(k)!)), count: keys.length };
    check(this.#p.bpf('BPF_MAP_DELETE_BATCH', attr), `map ${this.name}: delete batch`);
    return attr.count;
  }

  /** freeze makes the map read-only to userspace (BPF_MAP_FREEZE). */
  freeze(): void {
    check(this.#p.bpf('BPF_MAP_FREEZE', { map_fd: this.fd }), `map ${this.name}: freeze`);
  }

  /** pin puts the map at `path` in the kernel's pin namespace (bpf_obj_pin). */
  pin(path: string): void {
    check(this.#p.bpf('BPF_OBJ_PIN', { pathname: path, bpf_fd: this.fd }), `map ${this.name}: pin ${path}`);
  }

  /** unpin removes the pin at `path` (the map lives on while this fd or another holder has it). */
  unpin(path: string): void {
    check(this.#p.kernel.unlink(path), `map ${this.name}: unpin ${path}`);
  }

  /** close drops this fd; calling it again does nothing. */
  close(): void {
    if (this.#fd >= 0) this.#p.close(this.#fd);
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
