import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno as neg, argU32 as u32 } from '../../vm/helpers.js';
import { defaultTask } from '../currentTask.js';
import type { HookRuntime } from '../runtime.js';

/**
 * struct bpf_pidns_info:
 *
 *   0     4      8
 *   [pid][tgid]
 */
const BPF_PIDNS_INFO_SIZE = 8;

/**
 * pidnsHelpers: bpf_get_ns_current_pid_tgid (120) (kernel/bpf/helpers.c): the calling task's
 * pid and tgid as seen in the pid namespace named by (dev, ino), which must be the task's own
 * (ns_match: `stat /proc/self/ns/pid`'s st_dev and st_ino; RuntimeOptions.task.pidns). A size
 * other than sizeof(struct bpf_pidns_info), a dev that does not fit dev_t (32 bits), or another
 * namespace: -EINVAL, with the buffer zeroed (the running 6.18 kernel gives -EINVAL for a
 * namespace that does not match; -ENOENT is kept for a task without one, which bpfbox's never is).
 */
export function pidnsHelpers(rt: HookRuntime): Helper[] {
  const ns = (rt.options.task ?? defaultTask()).pidns;
  return [
    {
      id: 120,
      name: 'bpf_get_ns_current_pid_tgid',
      fn: (dev, ino, nsdata, size) => {
        const [at, n] = [u32(nsdata), u32(size)];
        const view = rt.kernel.memory.view;
        if (n !== BPF_PIDNS_INFO_SIZE || dev >> 32n || dev !== ns.dev || ino !== ns.ino) {
          rt.kernel.memory.u8.fill(0, at, at + n);
          return neg(Errno.EINVAL);
        }
        view.setUint32(at, ns.pid, true);
        view.setUint32(at + 4, ns.tgid, true);
        return 0n;
      },
    },
  ];
}
