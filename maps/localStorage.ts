import type { AddressSpace } from '../vm/memory.js';
import { BpfMap, createDescriptor } from './bpfMap.js';
import { round8 } from './descriptor.js';
import { Errno, fail } from '../uapi/errno.js';
import { MapType as T } from '../uapi/mapType.js';
import type { MapSpec } from './spec.js';

/** BPF_LOCAL_STORAGE_GET_F_CREATE: bpf_*_storage_get creates the owner's storage when it has none. */
export const BPF_LOCAL_STORAGE_GET_F_CREATE = 1;

/** The header before the value: a u32, 1 while the owner has its storage. */
const HEADER = 8;

/**
 * LocalStorageMap: BPF_MAP_TYPE_TASK_STORAGE and BPF_MAP_TYPE_CGRP_STORAGE (kernel/bpf/
 * bpf_task_storage.c, bpf_cgrp_storage.c, bpf_local_storage.c): a value kept in the owner,
 * a task or a cgroup, found by the owner's pointer. In bpfbox the only task a program can hold
 * is `current` (bpf_get_current_task_btf: the bpfbox process) and it can hold no cgroup, so the
 * map keeps one owner's storage: a present word and the value, in the shared memory so every
 * thread sees it. Userspace names an owner by a pidfd or a cgroup fd; bpfbox's bpf() door has
 * no such fds, so its lookups, updates and deletes are EBADF (pidfd_get_pid, cgroup_v1v2_get_from_fd
 * of an fd not open) and there is no next key (notsupp_get_next_key: ENOTSUPP).
 */
export class LocalStorageMap extends BpfMap {
  static create(space: AddressSpace, spec: MapSpec, ncpus: number): LocalStorageMap {
    const { desc } = createDescriptor(space, spec, ncpus, { storageBytes: HEADER + round8(spec.valueSize) });
    return new LocalStorageMap(space, desc);
  }

  /** The kernel names: BPF_MAP_TYPE_TASK_STORAGE's owners are tasks, CGRP_STORAGE's cgroups. */
  get ownerKind(): 'task' | 'cgroup' {
    return this.type === T.BPF_MAP_TYPE_TASK_STORAGE ? 'task' : 'cgroup';
  }

  /**
   * ownerGet: bpf_local_storage_lookup for the one owner, or with BPF_LOCAL_STORAGE_GET_F_CREATE
   * bpf_local_storage_update(BPF_NOEXIST): the value zeroed, then the program's `valueAddr`
   * (when not 0) copied in. Returns the value's address, or 0.
   */
  ownerGet(valueAddr: number, flags: number): number {
    const present = this.storage >> 2;
    const value = this.storage + HEADER;
    if (Atomics.load(this.space.i32, present) === 1) return value;
    if (!(flags & BPF_LOCAL_STORAGE_GET_F_CREATE)) return 0;
    const u8 = this.space.u8;
    if (valueAddr) u8.copyWithin(value, valueAddr, valueAddr + this.valueSize);
    else u8.fill(0, value, value + this.valueSize);
    Atomics.store(this.space.i32, present, 1);
    return value;
  }

  /** ownerDelete: the owner's storage gone (0), or -ENOENT when it had none (bpf_*_storage_del). */
  ownerDelete(): number {
    return Atomics.compareExchange(this.space.i32, this.storage >> 2, 1, 0) === 1 ? 0 : -Errno.ENOENT;
  }

  override update(): number {
    return -Errno.EBADF;
  }

  override delete(): number {
    return -Errno.EBADF;
  }

  override lookupBytes(key: Uint8Array): Uint8Array {
    this.putKey(key);
    return fail(Errno.EBADF, `no ${this.ownerKind === 'task' ? 'pidfd' : 'cgroup fd'} ${keyFd(key)} in bpfbox`);
  }

  override nextKey(): Uint8Array {
    return fail(Errno.ENOTSUPP);
  }
}

const keyFd = (key: Uint8Array): number => new DataView(key.buffer, key.byteOffset, 4).getInt32(0, true);
