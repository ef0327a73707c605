import type { AddressSpace } from '../vm/memory.js';
import { BpfMap, createDescriptor } from './bpfMap.js';
import { Errno, fail } from '../uapi/errno.js';
import { MapType as T } from '../uapi/mapType.js';
import type { MapSpec } from './spec.js';

/**
 * UnbackedMap holds the map types whose elements are kernel objects bpfbox has none of, so
 * that an object holding one loads and its programs verify as the kernel's do:
 *
 * | type                                   | an element is            | here                          |
 * |----------------------------------------|--------------------------|-------------------------------|
 * | BPF_MAP_TYPE_SOCKMAP, _SOCKHASH        | a socket                 | none: updates EBADF           |
 * | BPF_MAP_TYPE_REUSEPORT_SOCKARRAY       | a SO_REUSEPORT socket    | the same                      |
 * | BPF_MAP_TYPE_SK_STORAGE                | a socket's storage       | keyed by socket fd: EBADF     |
 * | BPF_MAP_TYPE_(PERCPU_)CGROUP_STORAGE   | an attached cgroup's     | nothing attached: ENOENT      |
 * | BPF_MAP_TYPE_USER_RINGBUF              | user space's records     | no producer yet: always empty |
 *
 * Every lookup finds nothing. bpfbox has no user-space producer for BPF_MAP_TYPE_USER_RINGBUF
 * yet, and its verifier does not model bpf_user_ringbuf_drain's callback, so no program
 * drains one. The userspace errnos are the running kernel's on an empty map (bpftool map
 * lookup/delete/getnext): a socket map whose values are 4 bytes cannot be read back
 * (ENOSPC: only 8-byte values give the socket's cookie); a sockmap's and reuseport array's
 * keys are indexes, walked as an array's. An update names a socket by fd; whether that fd is
 * absent (EBADF) or not a socket (ENOTSOCK) is the fd table's to say: here always EBADF.
 */
export class UnbackedMap extends BpfMap {
  static create(space: AddressSpace, spec: MapSpec, ncpus: number): UnbackedMap {
    const { desc } = createDescriptor(space, spec, ncpus, { storageBytes: 0 });
    return new UnbackedMap(space, desc);
  }

  get #indexed(): boolean {
    return this.type === T.BPF_MAP_TYPE_SOCKMAP || this.type === T.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY;
  }

  get #sockets(): boolean {
    return this.#indexed || this.type === T.BPF_MAP_TYPE_SOCKHASH;
  }

  override update(): number {
    if (this.type === T.BPF_MAP_TYPE_CGROUP_STORAGE || this.type === T.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE) return -Errno.ENOENT;
    if (this.type === T.BPF_MAP_TYPE_USER_RINGBUF) return -Errno.ENOTSUPP; // records come through the mmap'd ring
    return -Errno.EBADF;
  }

  override delete(keyAddr: number): number {
    switch (this.type) {
      case T.BPF_MAP_TYPE_SOCKMAP:
      case T.BPF_MAP_TYPE_CGROUP_STORAGE:
      case T.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
        return -Errno.EINVAL; // __sock_map_delete of an empty slot; cgroup storages are never deleted
      case T.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY:
        return this.space.view.getUint32(keyAddr, true) >= this.maxEntries ? -Errno.E2BIG : -Errno.ENOENT;
      case T.BPF_MAP_TYPE_USER_RINGBUF:
        return -Errno.ENOTSUPP;
      default:
        return -Errno.ENOENT;
    }
  }

  override lookupBytes(key: Uint8Array): Uint8Array {
    if (this.type === T.BPF_MAP_TYPE_USER_RINGBUF) fail(Errno.ENOTSUPP); // ringbuf_map_lookup_elem
    this.putKey(key);
    if (this.#sockets && this.valueSize !== 8) fail(Errno.ENOSPC, 'only 8-byte values (socket cookies) can be read back');
    return fail(Errno.ENOENT);
  }

  override nextKey(key: Uint8Array | null): Uint8Array {
    if (this.type === T.BPF_MAP_TYPE_USER_RINGBUF) fail(Errno.ENOTSUPP);
    if (!this.#indexed) fail(Errno.ENOENT);
    const i = key === null || key.length !== 4 ? -1 : new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
    const next = i < 0 || i >= this.maxEntries ? 0 : i + 1;
    if (next >= this.maxEntries) fail(Errno.ENOENT);
    return Uint8Array.from([next & 0xff, (next >>> 8) & 0xff, (next >>> 16) & 0xff, next >>> 24]);
  }
}
