/**
 * ProgType: the `BPF_PROG_TYPE_*` ids of include/uapi/linux/bpf.h, with bpftool's names
 * (`xdp`, `socket_filter`, `sched_cls`, …).
 */
export const ProgType = {
  BPF_PROG_TYPE_UNSPEC: 0,
  BPF_PROG_TYPE_SOCKET_FILTER: 1,
  BPF_PROG_TYPE_KPROBE: 2,
  BPF_PROG_TYPE_SCHED_CLS: 3,
  BPF_PROG_TYPE_SCHED_ACT: 4,
  BPF_PROG_TYPE_TRACEPOINT: 5,
  BPF_PROG_TYPE_XDP: 6,
  BPF_PROG_TYPE_PERF_EVENT: 7,
  BPF_PROG_TYPE_CGROUP_SKB: 8,
  BPF_PROG_TYPE_CGROUP_SOCK: 9,
  BPF_PROG_TYPE_LWT_IN: 10,
  BPF_PROG_TYPE_LWT_OUT: 11,
  BPF_PROG_TYPE_LWT_XMIT: 12,
  BPF_PROG_TYPE_SOCK_OPS: 13,
  BPF_PROG_TYPE_SK_SKB: 14,
  BPF_PROG_TYPE_CGROUP_DEVICE: 15,
  BPF_PROG_TYPE_SK_MSG: 16,
  BPF_PROG_TYPE_RAW_TRACEPOINT: 17,
  BPF_PROG_TYPE_CGROUP_SOCK_ADDR: 18,
  BPF_PROG_TYPE_LWT_SEG6LOCAL: 19,
  BPF_PROG_TYPE_LIRC_MODE2: 20,
  BPF_PROG_TYPE_SK_REUSEPORT: 21,
  BPF_PROG_TYPE_FLOW_DISSECTOR: 22,
  BPF_PROG_TYPE_CGROUP_SYSCTL: 23,
  BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE: 24,
  BPF_PROG_TYPE_CGROUP_SOCKOPT: 25,
  BPF_PROG_TYPE_TRACING: 26,
  BPF_PROG_TYPE_STRUCT_OPS: 27,
  BPF_PROG_TYPE_EXT: 28,
  BPF_PROG_TYPE_LSM: 29,
  BPF_PROG_TYPE_SK_LOOKUP: 30,
  BPF_PROG_TYPE_SYSCALL: 31,
  BPF_PROG_TYPE_NETFILTER: 32,
} as const;

/** progTypeName returns bpftool's name for a program type id (`xdp`, `sched_cls`, …). */
export function progTypeName(type: number): string {
  const entry = Object.entries(ProgType).find(([, v]) => v === type);
  return entry ? entry[0].replace('BPF_PROG_TYPE_', '').toLowerCase() : `type ${type}`;
}

/** isProgType tells whether `type` is a known program type (UNSPEC is not). */
export function isProgType(type: number): boolean {
  return Number.isInteger(type) && type > 0 && type <= ProgType.BPF_PROG_TYPE_NETFILTER;
}

/**
 * AttachType: the enum bpf_attach_type values bpfbox acts on, BPF_PROG_LOAD's
 * expected_attach_type: an XDP program for a DEVMAP or CPUMAP entry (it may read
 * xdp_md's egress_ifindex), or for an interface; the cgroup, tracing and netfilter hooks
 * whose return-value range check_return_code picks by it.
 */
export const AttachType = {
  BPF_CGROUP_INET_INGRESS: 0,
  BPF_CGROUP_INET_EGRESS: 1,
  BPF_CGROUP_INET_SOCK_CREATE: 2,
  BPF_CGROUP_INET4_BIND: 8,
  BPF_CGROUP_INET6_BIND: 9,
  BPF_CGROUP_INET4_CONNECT: 10,
  BPF_CGROUP_INET6_CONNECT: 11,
  BPF_CGROUP_INET4_POST_BIND: 12,
  BPF_CGROUP_INET6_POST_BIND: 13,
  BPF_CGROUP_UDP4_SENDMSG: 14,
  BPF_CGROUP_UDP6_SENDMSG: 15,
  BPF_CGROUP_UDP4_RECVMSG: 19,
  BPF_CGROUP_UDP6_RECVMSG: 20,
  BPF_TRACE_FENTRY: 24,
  BPF_TRACE_FEXIT: 25,
  BPF_CGROUP_INET4_GETPEERNAME: 29,
  BPF_CGROUP_INET6_GETPEERNAME: 30,
  BPF_CGROUP_INET4_GETSOCKNAME: 31,
  BPF_CGROUP_INET6_GETSOCKNAME: 32,
  BPF_XDP_DEVMAP: 33,
  BPF_CGROUP_INET_SOCK_RELEASE: 34,
  BPF_XDP_CPUMAP: 35,
  BPF_XDP: 37,
  BPF_STRUCT_OPS: 44,
  BPF_NETFILTER: 45,
  BPF_CGROUP_UNIX_CONNECT: 49,
  BPF_CGROUP_UNIX_SENDMSG: 50,
  BPF_CGROUP_UNIX_RECVMSG: 51,
  BPF_CGROUP_UNIX_GETPEERNAME: 52,
  BPF_CGROUP_UNIX_GETSOCKNAME: 53,
} as const;
