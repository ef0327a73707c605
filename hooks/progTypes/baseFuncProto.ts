import { helperId } from '../../uapi/helperNames.js';

/** ids turns a table of kernel helper names (`enum bpf_func_id` without BPF_FUNC_) into their ids. */
export function ids(names: readonly string[]): number[] {
  return names.map((n) => helperId(n) ?? Number.NaN);
}

/**
 * BASE_UNPRIVILEGED: bpf_base_func_proto's (kernel/bpf/helpers.c) first switch, which any
 * loader gets.
 */
export const BASE_UNPRIVILEGED: readonly string[] = [
  'map_lookup_elem',
  'map_update_elem',
  'map_delete_elem',
  'map_push_elem',
  'map_pop_elem',
  'map_peek_elem',
  'map_lookup_percpu_elem',
  'get_prandom_u32',
  'get_smp_processor_id',
  'get_numa_node_id',
  'tail_call',
  'ktime_get_ns',
  'ktime_get_boot_ns',
  'ktime_get_tai_ns',
  'ringbuf_output',
  'ringbuf_reserve',
  'ringbuf_submit',
  'ringbuf_discard',
  'ringbuf_query',
  'strncmp',
  'strtol',
  'strtoul',
  'get_current_pid_tgid',
  'get_ns_current_pid_tgid',
];

/** BASE_CAP_BPF: its second switch, behind bpf_token_capable(token, CAP_BPF). */
export const BASE_CAP_BPF: readonly string[] = [
  'spin_lock',
  'spin_unlock',
  'jiffies64',
  'per_cpu_ptr',
  'this_cpu_ptr',
  'timer_init',
  'timer_set_callback',
  'timer_start',
  'timer_cancel',
  'kptr_xchg',
  'for_each_map_elem',
  'loop',
  'user_ringbuf_drain',
  'ringbuf_reserve_dynptr',
  'ringbuf_submit_dynptr',
  'ringbuf_discard_dynptr',
  'dynptr_from_mem',
  'dynptr_read',
  'dynptr_write',
  'dynptr_data',
  'cgrp_storage_get', // CONFIG_CGROUPS
  'cgrp_storage_delete',
  'get_current_cgroup_id',
  'get_current_ancestor_cgroup_id',
];

/**
 * BASE_CAP_PERFMON: its third switch, behind bpf_token_capable(token, CAP_PERFMON) (the
 * probe_read and current-task ones also behind security_locked_down(LOCKDOWN_BPF_READ_KERNEL)).
 * The 6.12 list, then what 6.18 adds there (the running kernel's answers: the rest of the
 * tracing base, current task's ids and comm, signals, task storage, stacks, user copies).
 */
export const BASE_CAP_PERFMON: readonly string[] = [
  'trace_printk',
  'get_current_task',
  'get_current_task_btf',
  'probe_read_user',
  'probe_read_kernel',
  'probe_read_user_str',
  'probe_read_kernel_str',
  'snprintf_btf',
  'snprintf',
  'task_pt_regs',
  'trace_vprintk',
  // 6.18
  'get_current_uid_gid',
  'get_current_comm',
  'get_cgroup_classid',
  'perf_event_read',
  'current_task_under_cgroup',
  'perf_event_read_value',
  'send_signal',
  'send_signal_thread',
  'get_task_stack',
  'copy_from_user',
  'task_storage_get',
  'task_storage_delete',
  'get_branch_snapshot',
  'find_vma',
  'copy_from_user_task',
];

/**
 * BASE_FUNC_PROTO: the helpers (by kernel id) bpf_base_func_proto gives every type bpfbox
 * models, as a privileged loader (CAP_BPF and CAP_PERFMON, as root) sees them; each type's
 * get_func_proto (net/core/filter.c) adds its own.
 */
export const BASE_FUNC_PROTO: readonly number[] = ids([...BASE_UNPRIVILEGED, ...BASE_CAP_BPF, ...BASE_CAP_PERFMON]);

/**
 * SK_BASE_FUNC_PROTO: bpf_sk_base_func_proto (net/core/filter.c), the default of the
 * networking types' get_func_proto: the base, ktime_get_coarse_ns, and the socket casts
 * (bpf_skc_to_*, behind CAP_PERFMON).
 */
export const SK_BASE_FUNC_PROTO: readonly number[] = [
  ...BASE_FUNC_PROTO,
  ...ids([
    'ktime_get_coarse_ns',
    // CAP_PERFMON
    'skc_to_tcp6_sock',
    'skc_to_tcp_sock',
    'skc_to_tcp_timewait_sock',
    'skc_to_tcp_request_sock',
    'skc_to_udp6_sock',
    'skc_to_unix_sock',
    'skc_to_mptcp_sock',
  ]),
];
