import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno as neg, argU32 as u32 } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';

/** TASK_COMM_LEN. */
const TASK_COMM_LEN = 16;

/**
 * taskHelpers: what a networking program may ask of `current`. A test run in the kernel
 * runs in the calling process's task, and bpfbox is that process: its pid and thread id
 * (the main thread: tgid == pid), uid and gid, and comm (the process title, cut to 15
 * bytes). bpf_get_cgroup_classid (17) is 0 (no net_cls class; cgroup v2). There is no user
 * memory behind a program's pointers: bpf_probe_read_user (112) and _str (114) fault
 * (-EFAULT) and zero the buffer, as copy_from_user_nofault's failure does.
 */
export function taskHelpers(rt: HookRuntime): Helper[] {
  const u8 = () => rt.kernel.memory.u8;
  return [
    { id: 14, name: 'bpf_get_current_pid_tgid', fn: () => (BigInt(process.pid) << 32n) | BigInt(process.pid) },
    {
      id: 15,
      name: 'bpf_get_current_uid_gid',
      fn: () => (BigInt(process.getgid?.() ?? 0) << 32n) | BigInt(process.getuid?.() ?? 0),
    },
    {
      id: 16,
      name: 'bpf_get_current_comm',
      fn: (buf, size) => {
        const [b, n] = [u32(buf), u32(size)];
        const comm = new TextEncoder().encode(process.title).subarray(0, TASK_COMM_LEN - 1);
        // strscpy_pad: the name, cut to size - 1, then NULs to the end
        u8().fill(0, b, b + n);
        u8().set(comm.subarray(0, Math.max(0, n - 1)), b);
        return 0n;
      },
    },
    { id: 17, name: 'bpf_get_cgroup_classid', fn: () => 0n },
    {
      id: 112,
      name: 'bpf_probe_read_user',
      fn: (dst, size) => (u8().fill(0, u32(dst), u32(dst) + u32(size)), neg(Errno.EFAULT)),
    },
    {
      id: 114,
      name: 'bpf_probe_read_user_str',
      fn: (dst, size) => (u32(size) ? (u8().fill(0, u32(dst), u32(dst) + u32(size)), neg(Errno.EFAULT)) : 0n),
    },
  ];
}
