import { AttachType, ProgType } from '../uapi/progType.js';

const P = ProgType;

/**
 * SECTION_TYPES is libbpf's table of section names (`SEC("...")`) to program types
 * (tools/lib/bpf/libbpf.c, section_defs). A name matches an entry when it equals it, or
 * starts with it followed by `/` (`xdp/simple`, `kprobe/sys_open`) or, for the legacy
 * names libbpf once accepted, by anything (`socket1`).
 */
const SECTION_TYPES: readonly (readonly [string, number])[] = [
  ['socket', P.BPF_PROG_TYPE_SOCKET_FILTER],
  ['sk_reuseport/migrate', P.BPF_PROG_TYPE_SK_REUSEPORT],
  ['sk_reuseport', P.BPF_PROG_TYPE_SK_REUSEPORT],
  ['kprobe', P.BPF_PROG_TYPE_KPROBE],
  ['uprobe', P.BPF_PROG_TYPE_KPROBE],
  ['kretprobe', P.BPF_PROG_TYPE_KPROBE],
  ['uretprobe', P.BPF_PROG_TYPE_KPROBE],
  ['ksyscall', P.BPF_PROG_TYPE_KPROBE],
  ['kretsyscall', P.BPF_PROG_TYPE_KPROBE],
  ['usdt', P.BPF_PROG_TYPE_KPROBE],
  ['kprobe.multi', P.BPF_PROG_TYPE_KPROBE],
  ['tc/ingress', P.BPF_PROG_TYPE_SCHED_CLS],
  ['tc/egress', P.BPF_PROG_TYPE_SCHED_CLS],
  ['tcx/ingress', P.BPF_PROG_TYPE_SCHED_CLS],
  ['tcx/egress', P.BPF_PROG_TYPE_SCHED_CLS],
  ['tc', P.BPF_PROG_TYPE_SCHED_CLS],
  ['classifier', P.BPF_PROG_TYPE_SCHED_CLS],
  ['action', P.BPF_PROG_TYPE_SCHED_ACT],
  ['tracepoint', P.BPF_PROG_TYPE_TRACEPOINT],
  ['tp', P.BPF_PROG_TYPE_TRACEPOINT],
  ['raw_tracepoint', P.BPF_PROG_TYPE_RAW_TRACEPOINT],
  ['raw_tp', P.BPF_PROG_TYPE_RAW_TRACEPOINT],
  ['raw_tracepoint.w', P.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE],
  ['raw_tp.w', P.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE],
  ['tp_btf', P.BPF_PROG_TYPE_TRACING],
  ['fentry', P.BPF_PROG_TYPE_TRACING],
  ['fmod_ret', P.BPF_PROG_TYPE_TRACING],
  ['fexit', P.BPF_PROG_TYPE_TRACING],
  ['fentry.s', P.BPF_PROG_TYPE_TRACING],
  ['fmod_ret.s', P.BPF_PROG_TYPE_TRACING],
  ['fexit.s', P.BPF_PROG_TYPE_TRACING],
  ['iter', P.BPF_PROG_TYPE_TRACING],
  ['iter.s', P.BPF_PROG_TYPE_TRACING],
  ['freplace', P.BPF_PROG_TYPE_EXT],
  ['lsm', P.BPF_PROG_TYPE_LSM],
  ['lsm.s', P.BPF_PROG_TYPE_LSM],
  ['lsm_cgroup', P.BPF_PROG_TYPE_LSM],
  ['xdp.frags/devmap', P.BPF_PROG_TYPE_XDP],
  ['xdp/devmap', P.BPF_PROG_TYPE_XDP],
  ['xdp.frags/cpumap', P.BPF_PROG_TYPE_XDP],
  ['xdp/cpumap', P.BPF_PROG_TYPE_XDP],
  ['xdp.frags', P.BPF_PROG_TYPE_XDP],
  ['xdp', P.BPF_PROG_TYPE_XDP],
  ['perf_event', P.BPF_PROG_TYPE_PERF_EVENT],
  ['lwt_in', P.BPF_PROG_TYPE_LWT_IN],
  ['lwt_out', P.BPF_PROG_TYPE_LWT_OUT],
  ['lwt_xmit', P.BPF_PROG_TYPE_LWT_XMIT],
  ['lwt_seg6local', P.BPF_PROG_TYPE_LWT_SEG6LOCAL],
  ['sockops', P.BPF_PROG_TYPE_SOCK_OPS],
  ['sk_skb/stream_parser', P.BPF_PROG_TYPE_SK_SKB],
  ['sk_skb/stream_verdict', P.BPF_PROG_TYPE_SK_SKB],
  ['sk_skb', P.BPF_PROG_TYPE_SK_SKB],
  ['sk_msg', P.BPF_PROG_TYPE_SK_MSG],
  ['lirc_mode2', P.BPF_PROG_TYPE_LIRC_MODE2],
  ['flow_dissector', P.BPF_PROG_TYPE_FLOW_DISSECTOR],
  ['cgroup_skb/ingress', P.BPF_PROG_TYPE_CGROUP_SKB],
  ['cgroup_skb/egress', P.BPF_PROG_TYPE_CGROUP_SKB],
  ['cgroup/skb', P.BPF_PROG_TYPE_CGROUP_SKB],
  ['cgroup/sock_create', P.BPF_PROG_TYPE_CGROUP_SOCK],
  ['cgroup/sock_release', P.BPF_PROG_TYPE_CGROUP_SOCK],
  ['cgroup/sock', P.BPF_PROG_TYPE_CGROUP_SOCK],
  ['cgroup/post_bind4', P.BPF_PROG_TYPE_CGROUP_SOCK],
  ['cgroup/post_bind6', P.BPF_PROG_TYPE_CGROUP_SOCK],
  ['cgroup/bind4', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/bind6', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/connect4', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/connect6', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/sendmsg4', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/sendmsg6', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/recvmsg4', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/recvmsg6', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/getpeername4', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/getpeername6', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/getsockname4', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/getsockname6', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/connect_unix', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/sendmsg_unix', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/recvmsg_unix', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/getpeername_unix', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/getsockname_unix', P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR],
  ['cgroup/sysctl', P.BPF_PROG_TYPE_CGROUP_SYSCTL],
  ['cgroup/getsockopt', P.BPF_PROG_TYPE_CGROUP_SOCKOPT],
  ['cgroup/setsockopt', P.BPF_PROG_TYPE_CGROUP_SOCKOPT],
  ['cgroup/dev', P.BPF_PROG_TYPE_CGROUP_DEVICE],
  ['struct_ops', P.BPF_PROG_TYPE_STRUCT_OPS],
  ['struct_ops.s', P.BPF_PROG_TYPE_STRUCT_OPS],
  ['sk_lookup', P.BPF_PROG_TYPE_SK_LOOKUP],
  ['syscall', P.BPF_PROG_TYPE_SYSCALL],
  ['netfilter', P.BPF_PROG_TYPE_NETFILTER],
];

/** Names whose legacy forms carried anything after them (`socket1`, `xdp_prog`). */
const LEGACY_PREFIX = new Set([
  'socket',
  'xdp',
  'kprobe',
  'kretprobe',
  'tracepoint',
  'classifier',
  'action',
  'perf_event',
  'sockops',
  'sk_skb',
  'sk_msg',
]);

/**
 * autoloadOff: libbpf's `?` before a section name (`SEC("?xdp")`): the program is not loaded
 * unless asked for by name (bpf_program__set_autoload); its type is the rest's.
 */
export const autoloadOff = (section: string): boolean => section.startsWith('?');
const withoutAutoloadOff = (section: string): string => (autoloadOff(section) ? section.slice(1) : section);

/** progTypeForSection returns the program type of a section name (after any `?`), or undefined. */
export function progTypeForSection(section: string): number | undefined {
  section = withoutAutoloadOff(section);
  let best: readonly [string, number] | undefined;
  for (const e of SECTION_TYPES) {
    const [name] = e;
    const match =
      section === name ||
      section.startsWith(`${name}/`) ||
      section.startsWith(`${name}+`) ||
      (LEGACY_PREFIX.has(name) && section.startsWith(name));
    if (match && (!best || name.length > best[0].length)) best = e;
  }
  return best?.[1];
}

/** SECTION_ATTACH: the sections whose programs libbpf loads with an expected_attach_type bpfbox acts on. */
const SECTION_ATTACH: readonly (readonly [string, number])[] = [
  ['xdp/devmap', AttachType.BPF_XDP_DEVMAP],
  ['xdp.frags/devmap', AttachType.BPF_XDP_DEVMAP],
  ['xdp/cpumap', AttachType.BPF_XDP_CPUMAP],
  ['xdp.frags/cpumap', AttachType.BPF_XDP_CPUMAP],
  ['cgroup_skb/ingress', AttachType.BPF_CGROUP_INET_INGRESS],
  ['cgroup_skb/egress', AttachType.BPF_CGROUP_INET_EGRESS],
  ['cgroup/sock_create', AttachType.BPF_CGROUP_INET_SOCK_CREATE],
  ['cgroup/sock_release', AttachType.BPF_CGROUP_INET_SOCK_RELEASE],
  ['cgroup/sock', AttachType.BPF_CGROUP_INET_SOCK_CREATE],
  ['cgroup/post_bind4', AttachType.BPF_CGROUP_INET4_POST_BIND],
  ['cgroup/post_bind6', AttachType.BPF_CGROUP_INET6_POST_BIND],
  ['cgroup/bind4', AttachType.BPF_CGROUP_INET4_BIND],
  ['cgroup/bind6', AttachType.BPF_CGROUP_INET6_BIND],
  ['cgroup/connect4', AttachType.BPF_CGROUP_INET4_CONNECT],
  ['cgroup/connect6', AttachType.BPF_CGROUP_INET6_CONNECT],
  ['cgroup/connect_unix', AttachType.BPF_CGROUP_UNIX_CONNECT],
  ['cgroup/sendmsg4', AttachType.BPF_CGROUP_UDP4_SENDMSG],
  ['cgroup/sendmsg6', AttachType.BPF_CGROUP_UDP6_SENDMSG],
  ['cgroup/sendmsg_unix', AttachType.BPF_CGROUP_UNIX_SENDMSG],
  ['cgroup/recvmsg4', AttachType.BPF_CGROUP_UDP4_RECVMSG],
  ['cgroup/recvmsg6', AttachType.BPF_CGROUP_UDP6_RECVMSG],
  ['cgroup/recvmsg_unix', AttachType.BPF_CGROUP_UNIX_RECVMSG],
  ['cgroup/getpeername4', AttachType.BPF_CGROUP_INET4_GETPEERNAME],
  ['cgroup/getpeername6', AttachType.BPF_CGROUP_INET6_GETPEERNAME],
  ['cgroup/getpeername_unix', AttachType.BPF_CGROUP_UNIX_GETPEERNAME],
  ['cgroup/getsockname4', AttachType.BPF_CGROUP_INET4_GETSOCKNAME],
  ['cgroup/getsockname6', AttachType.BPF_CGROUP_INET6_GETSOCKNAME],
  ['cgroup/getsockname_unix', AttachType.BPF_CGROUP_UNIX_GETSOCKNAME],
  ['fentry', AttachType.BPF_TRACE_FENTRY],
  ['fexit', AttachType.BPF_TRACE_FEXIT],
  ['netfilter', AttachType.BPF_NETFILTER],
];

/** attachTypeForSection: the expected_attach_type libbpf gives a section's programs (of SECTION_ATTACH), or undefined. */
export function attachTypeForSection(section: string): number | undefined {
  section = withoutAutoloadOff(section);
  return SECTION_ATTACH.find(([name]) => section === name || section.startsWith(`${name}/`))?.[1];
}
