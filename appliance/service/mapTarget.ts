import { BpfErrno, Errno } from '../../uapi/errno.js';
import type { MapInfo } from '../../uapi/info.js';
import type { Kernel } from '../../kernel/kernel.js';
import { MapType } from '../../uapi/mapType.js';
import type { MapShow } from '../cli/mapOutput.js';

/**
 * MapTarget is one map as a CLI command reaches it: in this process's kernel (LocalMap), or
 * held live by another bpfbox process and reached over its control socket (RemoteMap).
 * Failures throw BpfErrno with the kernel's errno either way.
 */
export interface MapTarget {
  show(): Promise<MapShow>;
  lookup(key: Uint8Array | null, value?: Uint8Array): Promise<Uint8Array>;
  update(key: Uint8Array | null, value: Uint8Array, flags: number): Promise<void>;
  delete(key: Uint8Array): Promise<void>;
  nextKey(key: Uint8Array | null): Promise<Uint8Array>;
  dump(): Promise<[Uint8Array, Uint8Array][]>;
  freeze(): Promise<void>;
  /** pop: BPF_MAP_LOOKUP_AND_DELETE_ELEM without a key (queues and stacks). */
  pop(): Promise<Uint8Array>;
  pin(path: string): Promise<void>;
}

/** The methods a RemoteMap forwards, with their arguments as JSON. */
export type MapMethod = 'show' | 'lookup' | 'update' | 'delete' | 'nextKey' | 'dump' | 'freeze' | 'pop' | 'pin';

const check = (r: number, what: string): number => {
  if (r < 0) throw new BpfErrno(-r, what);
  return r;
};

/** LocalMap reaches a map through this process's kernel, by fd. */
export class LocalMap implements MapTarget {
  readonly #k: Kernel;
  readonly fd: number;
  readonly #pinned: () => string[];

  constructor(k: Kernel, fd: number, pinned: () => string[]) {
    this.#k = k;
    this.fd = fd;
    this.#pinned = pinned;
  }

  get #obj() {
    return this.#k.process.mapOf(this.fd).map;
  }

  async show(): Promise<MapShow> {
    const a: { bpf_fd: number; info?: MapInfo } = { bpf_fd: this.fd };
    check(this.#k.bpf('BPF_OBJ_GET_INFO_BY_FD', a), 'info');
    const i = a.info!;
    return {
      id: i.id,
      type: i.type,
      name: i.name,
      flags: i.map_flags,
      bytes_key: i.key_size,
      bytes_value: i.value_size,
      max_entries: i.max_entries,
      bytes_memlock: i.bytes_memlock,
      frozen: i.frozen,
      pinned: this.#pinned(),
      percpu: this.#obj.map.percpu,
      ncpus: this.#obj.map.ncpus,
      btf: this.#obj.spec.btf,
    };
  }

  async lookup(key: Uint8Array | null, value?: Uint8Array): Promise<Uint8Array> {
    const m = this.#obj.map;
    const out = value ?? new Uint8Array(m.userValueSize);
    if (m.type === MapType.BPF_MAP_TYPE_QUEUE || m.type === MapType.BPF_MAP_TYPE_STACK) key = null;
    check(this.#k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: this.fd, key, value: out }), 'lookup');
    return out;
  }

  async update(key: Uint8Array | null, value: Uint8Array, flags: number): Promise<void> {
    check(this.#k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: this.fd, key, value, flags }), 'update');
  }

  async delete(key: Uint8Array): Promise<void> {
    check(this.#k.bpf('BPF_MAP_DELETE_ELEM', { map_fd: this.fd, key }), 'delete');
  }

  async nextKey(key: Uint8Array | null): Promise<Uint8Array> {
    const next = new Uint8Array(this.#obj.map.keySize);
    check(this.#k.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: this.fd, key, next_key: next }), 'get next key');
    return next;
  }

  async dump(): Promise<[Uint8Array, Uint8Array][]> {
    const m = this.#obj;
    const out: [Uint8Array, Uint8Array][] = [];
    let key: Uint8Array | null = null;
    for (;;) {
      const next = new Uint8Array(m.map.keySize);
      const r = this.#k.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: this.fd, key, next_key: next });
      if (r === -Errno.ENOENT) break;
      check(r, 'get next key');
      const value = new Uint8Array(m.map.userValueSize);
      if (this.#k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: this.fd, key: next, value }) === 0) out.push([next, value]);
      key = next;
    }
    return out;
  }

  async freeze(): Promise<void> {
    check(this.#k.bpf('BPF_MAP_FREEZE', { map_fd: this.fd }), 'freeze');
  }

  async pop(): Promise<Uint8Array> {
    const value = new Uint8Array(this.#obj.map.valueSize);
    check(this.#k.bpf('BPF_MAP_LOOKUP_AND_DELETE_ELEM', { map_fd: this.fd, key: null, value }), 'pop');
    return value;
  }

  async pin(path: string): Promise<void> {
    check(this.#k.bpf('BPF_OBJ_PIN', { pathname: path, bpf_fd: this.fd }), 'pin');
  }
}
