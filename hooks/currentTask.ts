/**
 * CurrentTask: what the helpers that ask about `current` learn of the task a program runs in.
 * A test run in the kernel runs in the calling process's task, and bpfbox is that process
 * (hooks/helpers/task.ts): its cgroup v2 ancestry and its pid namespace are facts of the host,
 * read by kernel/hostTask.ts (I/O) and handed down through RuntimeOptions.task.
 *
 * - `cgroupIds`: the ids (cgroup_id(): the cgroup directory's inode number on cgroup2) from
 *   the root cgroup (index 0, id 1, level 0) down to the task's own cgroup (its level is
 *   `cgroupIds.length - 1`): bpf_get_current_cgroup_id, bpf_get_current_ancestor_cgroup_id,
 *   and the cgroup_is_descendant test of bpf_current_task_under_cgroup / bpf_skb_under_cgroup.
 * - `pidns`: the active pid namespace as `stat /proc/self/ns/pid` names it (st_dev, st_ino),
 *   and the task's pid and tgid in it: bpf_get_ns_current_pid_tgid.
 */
export interface CurrentTask {
  readonly cgroupIds: readonly bigint[];
  readonly pidns: { readonly dev: bigint; readonly ino: bigint; readonly pid: number; readonly tgid: number };
}

/** PROC_PID_INIT_INO: the inode number of init_pid_ns (include/linux/proc_ns.h). */
export const PROC_PID_INIT_INO = 0xeffffffcn;

/**
 * defaultTask: the pure default for library users that give no task: the root cgroup (id 1,
 * level 0) and the initial pid namespace (PROC_PID_INIT_INO, device 0: no nsfs device is
 * known without asking the host, so only a program given dev 0 matches), with the pid and tgid
 * bpf_get_current_pid_tgid gives.
 */
export function defaultTask(): CurrentTask {
  return { cgroupIds: [1n], pidns: { dev: 0n, ino: PROC_PID_INIT_INO, pid: process.pid, tgid: process.pid } };
}
