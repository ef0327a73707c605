import { ProgType as P } from '../../uapi/progType.js';

/**
 * KERN_CTX: the kernel's own context struct of each program type (the fourth column of
 * include/linux/bpf_types.h, what bpf_cast_to_kern_ctx gives) and its size in the running
 * 6.18 kernel's BTF (`bpftool btf dump file /sys/kernel/btf/vmlinux | grep "STRUCT 'sk_buff'"`).
 * Types absent here have none: their kernel context is `u64` (tracepoint, raw_tracepoint,
 * lirc_mode2) or `void *` (tracing, lsm, syscall, struct_ops, ext), and get_kern_ctx_btf_id
 * refuses the cast ("kern ctx type id N is not a struct").
 */
export const KERN_CTX: Readonly<Partial<Record<number, { readonly name: string; readonly size: number }>>> = {
  [P.BPF_PROG_TYPE_SOCKET_FILTER]: { name: 'sk_buff', size: 224 },
  [P.BPF_PROG_TYPE_SCHED_CLS]: { name: 'sk_buff', size: 224 },
  [P.BPF_PROG_TYPE_SCHED_ACT]: { name: 'sk_buff', size: 224 },
  [P.BPF_PROG_TYPE_CGROUP_SKB]: { name: 'sk_buff', size: 224 },
  [P.BPF_PROG_TYPE_LWT_IN]: { name: 'sk_buff', size: 224 },
  [P.BPF_PROG_TYPE_LWT_OUT]: { name: 'sk_buff', size: 224 },
  [P.BPF_PROG_TYPE_LWT_XMIT]: { name: 'sk_buff', size: 224 },
  [P.BPF_PROG_TYPE_LWT_SEG6LOCAL]: { name: 'sk_buff', size: 224 },
  [P.BPF_PROG_TYPE_SK_SKB]: { name: 'sk_buff', size: 224 },
  [P.BPF_PROG_TYPE_XDP]: { name: 'xdp_buff', size: 56 },
  [P.BPF_PROG_TYPE_CGROUP_SOCK]: { name: 'sock', size: 784 },
  [P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR]: { name: 'bpf_sock_addr_kern', size: 40 },
  [P.BPF_PROG_TYPE_SOCK_OPS]: { name: 'bpf_sock_ops_kern', size: 64 },
  [P.BPF_PROG_TYPE_SK_MSG]: { name: 'sk_msg', size: 712 },
  [P.BPF_PROG_TYPE_KPROBE]: { name: 'pt_regs', size: 168 },
  [P.BPF_PROG_TYPE_PERF_EVENT]: { name: 'bpf_perf_event_data_kern', size: 24 },
  [P.BPF_PROG_TYPE_CGROUP_SYSCTL]: { name: 'bpf_sysctl_kern', size: 72 },
  [P.BPF_PROG_TYPE_CGROUP_SOCKOPT]: { name: 'bpf_sockopt_kern', size: 56 },
  [P.BPF_PROG_TYPE_FLOW_DISSECTOR]: { name: 'bpf_flow_dissector', size: 32 },
  [P.BPF_PROG_TYPE_SK_REUSEPORT]: { name: 'sk_reuseport_kern', size: 56 },
  [P.BPF_PROG_TYPE_SK_LOOKUP]: { name: 'bpf_sk_lookup_kern', size: 48 },
  [P.BPF_PROG_TYPE_CGROUP_DEVICE]: { name: 'bpf_cgroup_dev_ctx', size: 12 },
  [P.BPF_PROG_TYPE_NETFILTER]: { name: 'bpf_nf_ctx', size: 16 },
};
