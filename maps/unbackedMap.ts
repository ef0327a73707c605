import type { AddressSpace } from '../vm/memory.js';
import { BpfMap, createDescriptor } from './bpfMap.js';
import { Errno, fail } from '../uapi/errno.js';
import { MapType } from '../uapi/mapType.js';
import type { MapSpec } from './spec.js';

/**
 * UnbackedMap holds the map types whose elements are kernel objects bpfbox has none of, so
 * that an object holding one loads and its programs verify as the kernel's do:
 *
 * | type                                   | an element is            | here                          |
 * |----------------------------------------|--------------------------|-------------------------------|
 * | BPF_MAP_TYPE_SOCKMAP, _SOCKHASH        | a socket                 | no socket: updates EBADF      |
 * | BPF_MAP_TYPE_REUSEPORT_SOCKARRAY       | a SO_REUSEPORT socket    | the same                      |
 * | BPF_MAP_TYPE_SK_STORAGE                | a socket's storage       | keyed by socket fd: EBADF     |
 * | BPF_MAP_TYPE_(PERCPU_)CGROUP_STORAGE   | an attached cgroup's     | nothing attached: ENOENT      |
 * | BPF_MAP_TYPE_USER_RINGBUF              | user space's records     | no producer yet: always empty |
 *
 * Every lookup finds nothing; a program's bpf_user_ringbuf_drain drains nothing (0 records),
 * as the kernel's does before user space has written a record. bpfbox has no user-space
 * producer for BPF_MAP_TYPE_USER_RINGBUF yet.
 */
export class UnbackedMap extends BpfMap {
  static create(space: AddressSpace, spec: MapSpec, ncpus: number): UnbackedMap {
    const { desc } = createDescriptor(space, spec, ncpus, { storageBytes: 0 });
    return new UnbackedMap(space, desc);
  }

  override update(): number {
    switch (this.type) {
      case MapType.BPF_MAP_TYPE_CGROUP_STORAGE:
      case MapType.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
        return -Errno.ENOENT; // the storage of a cgroup no program is attached to
      case MapType.BPF_MAP_TYPE_USER_RINGBUF:
        return -Errno.ENOTSUPP; // records come through the mmap'd ring, not updates
      default:
        return -Errno.EBADF; // the value (or, for sk_storage, the key) is a socket fd: none here is one
    }
  }

  override delete(): number {
    return this.type === MapType.BPF_MAP_TYPE_USER_RINGBUF ? -Errno.ENOTSUPP : -Errno.ENOENT;
  }

  override nextKey(): Uint8Array {
    return fail(Errno.ENOENT);
  }
}
