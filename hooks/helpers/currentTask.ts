import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno as neg, argU32 as u32 } from '../../vm/helpers.js';
import { Perm, type Region } from '../../vm/memory.js';
import { kernStructSize, memberOffset } from '../../vm/verifier/btfStruct.js';
import { BPF_LOCAL_STORAGE_GET_F_CREATE, LocalStorageMap } from '../../maps/localStorage.js';
import type { HookRuntime } from '../runtime.js';

/** The running kernel's sizes of struct task_struct and struct pt_regs (kernStructs.data.ts). */
const TASK_STRUCT_SIZE = kernStructSize('task_struct')!;
const PT_REGS_SIZE = kernStructSize('pt_regs')!;
/** CURRENT_TASK_BYTES: a CPU's `task` region: the task_struct, then its pt_regs. */
export const CURRENT_TASK_BYTES = TASK_STRUCT_SIZE + PT_REGS_SIZE;
/** TASK_COMM_LEN. */
const TASK_COMM_LEN = 16;
/** BPF_F_SKIP_FIELD_MASK, BPF_F_USER_STACK, BPF_F_USER_BUILD_ID: bpf_get_task_stack's flags. */
const BPF_F_SKIP_FIELD_MASK = 0xffn;
const BPF_F_USER_STACK = 1n << 8n;
const BPF_F_USER_BUILD_ID = 1n << 11n;
/** sizeof(struct bpf_stack_build_id): a user stack's element with BPF_F_USER_BUILD_ID. */
const BPF_STACK_BUILD_ID_SIZE = 32;

/**
 * currentTaskHelpers: `current` as a kernel object. A test run in the kernel runs in the
 * caller's task, and bpfbox is that process, so bpf_get_current_task_btf (158) gives a
 * task_struct laid out as the running kernel's (its BTF: kernStructs.data.ts) in the CPU's `task`
 * region: pid and tgid (the process id, as bpf_get_current_pid_tgid gives them), comm (the
 * process title, as bpf_get_current_comm), TASK_RUNNING; every other byte 0 (its pointers NULL:
 * the verifier lets no program walk them here). After it, the task's pt_regs: a user task's
 * registers, all 0 (bpf_task_pt_regs, 175). The only task a program can hold is this one, so:
 *
 * - bpf_get_task_stack (141): no kernel stack to walk here: the empty trace, 0 bytes, the buffer
 *   zeroed (__bpf_get_stack); bad flags or a size that is no whole number of entries: -EINVAL.
 * - bpf_find_vma (180): bpfbox keeps no VMAs: -ENOENT without calling the callback; flags not 0: -EINVAL.
 * - bpf_task_storage_get/delete (156/157), bpf_cgrp_storage_get/delete (210/211): the map's one
 *   owner (maps/localStorage.ts); a NULL owner gives NULL / -EINVAL, as the kernel's do. A
 *   program can hold no cgroup here, so a cgroup storage's owner is always NULL.
 */
export function currentTaskHelpers(rt: HookRuntime): Helper[] {
  const mem = () => rt.kernel.memory;
  let region: Region | undefined = rt.task;
  /** The task region, filled once per runtime (the process's pid and title do not change under it). */
  let filled = false;
  const task = (): number => {
    region ??= mem().map(CURRENT_TASK_BYTES, Perm.RW, `task/cpu${rt.cpu}`);
    if (!filled) {
      const [u8, view, at] = [mem().u8, mem().view, region.start];
      u8.fill(0, at, at + CURRENT_TASK_BYTES);
      view.setInt32(at + memberOffset('task_struct', 'pid'), process.pid, true);
      view.setInt32(at + memberOffset('task_struct', 'tgid'), process.pid, true);
      const comm = new TextEncoder().encode(process.title).subarray(0, TASK_COMM_LEN - 1);
      u8.set(comm, at + memberOffset('task_struct', 'comm'));
      filled = true;
    }
    return region.start;
  };
  const storage = (map: bigint): LocalStorageMap => rt.views.get(Number(map)) as LocalStorageMap;
  return [
    { id: 158, name: 'bpf_get_current_task_btf', fn: () => BigInt(task()) },
    { id: 175, name: 'bpf_task_pt_regs', fn: (t) => BigInt(u32(t) + TASK_STRUCT_SIZE) },
    {
      id: 141,
      name: 'bpf_get_task_stack',
      fn: (_t, buf, size, flags) => {
        const [b, n] = [u32(buf), u32(size)];
        mem().u8.fill(0, b, b + n);
        const user = (flags & BPF_F_USER_STACK) !== 0n;
        const buildId = (flags & BPF_F_USER_BUILD_ID) !== 0n;
        if (flags & ~(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_USER_BUILD_ID)) return neg(Errno.EINVAL);
        if (!user && buildId) return neg(Errno.EINVAL);
        if (n % (buildId ? BPF_STACK_BUILD_ID_SIZE : 8)) return neg(Errno.EINVAL);
        return 0n;
      },
    },
    { id: 180, name: 'bpf_find_vma', fn: (t, _addr, _cb, _ctx, flags) => (flags ? neg(Errno.EINVAL) : (void t, neg(Errno.ENOENT))) },
    {
      id: 156,
      name: 'bpf_task_storage_get',
      fn: (map, owner, value, flags) =>
        flags & ~BigInt(BPF_LOCAL_STORAGE_GET_F_CREATE) || !owner ? 0n : BigInt(storage(map).ownerGet(u32(value), Number(flags))),
    },
    {
      id: 157,
      name: 'bpf_task_storage_delete',
      fn: (map, owner) => (owner ? BigInt.asUintN(64, BigInt(storage(map).ownerDelete())) : neg(Errno.EINVAL)),
    },
    {
      id: 210,
      name: 'bpf_cgrp_storage_get',
      fn: (map, owner, value, flags) =>
        flags & ~BigInt(BPF_LOCAL_STORAGE_GET_F_CREATE) || !owner ? 0n : BigInt(storage(map).ownerGet(u32(value), Number(flags))),
    },
    {
      id: 211,
      name: 'bpf_cgrp_storage_delete',
      fn: (map, owner) => (owner ? BigInt.asUintN(64, BigInt(storage(map).ownerDelete())) : neg(Errno.EINVAL)),
    },
  ];
}
