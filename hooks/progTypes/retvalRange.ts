import { AttachType, ProgType } from '../../uapi/progType.js';
import type { RetvalRange } from '../../vm/verifier/verifierOps.js';

const A = AttachType;
const P = ProgType;

/** The cgroup_sock_addr hooks whose programs must return 1 (they cannot refuse: recvmsg, getpeername, getsockname). */
const SOCK_ADDR_MUST_PASS: ReadonlySet<number> = new Set([
  A.BPF_CGROUP_UDP4_RECVMSG,
  A.BPF_CGROUP_UDP6_RECVMSG,
  A.BPF_CGROUP_UNIX_RECVMSG,
  A.BPF_CGROUP_INET4_GETPEERNAME,
  A.BPF_CGROUP_INET6_GETPEERNAME,
  A.BPF_CGROUP_UNIX_GETPEERNAME,
  A.BPF_CGROUP_INET4_GETSOCKNAME,
  A.BPF_CGROUP_INET6_GETSOCKNAME,
  A.BPF_CGROUP_UNIX_GETSOCKNAME,
]);

const range = (minval: number, maxval: number): RetvalRange => ({ minval, maxval });

/**
 * retvalRangeOf: the range check_return_code (kernel/bpf/verifier.c) holds r0 to at the main
 * program's exit for a program of `type` loaded for `attach` (expected_attach_type), or
 * undefined where any value is allowed. The function's table: its default range is [0, 1];
 * cgroup_sock_addr's recvmsg/getpeername/getsockname hooks [1, 1] and bind [0, 3]; cgroup_skb
 * egress [0, 3]; fentry/fexit [0, 0]; sk_lookup [SK_DROP, SK_PASS]; netfilter [NF_DROP,
 * NF_ACCEPT]. Types it has no case for (socket filters, tc, XDP, kprobe without session,
 * tracepoints, perf_event, ext…) return anything. LSM ranges depend on the hook's BTF
 * (bpf_lsm_get_retval_range), which bpfbox does not model: none here.
 */
export function retvalRangeOf(type: number, attach: number): RetvalRange | undefined {
  switch (type) {
    case P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
      if (SOCK_ADDR_MUST_PASS.has(attach)) return range(1, 1);
      if (attach === A.BPF_CGROUP_INET4_BIND || attach === A.BPF_CGROUP_INET6_BIND) return range(0, 3);
      return range(0, 1);
    case P.BPF_PROG_TYPE_CGROUP_SKB:
      return attach === A.BPF_CGROUP_INET_EGRESS ? range(0, 3) : range(0, 1);
    case P.BPF_PROG_TYPE_CGROUP_SOCK:
    case P.BPF_PROG_TYPE_SOCK_OPS:
    case P.BPF_PROG_TYPE_CGROUP_DEVICE:
    case P.BPF_PROG_TYPE_CGROUP_SYSCTL:
    case P.BPF_PROG_TYPE_CGROUP_SOCKOPT:
      return range(0, 1);
    case P.BPF_PROG_TYPE_TRACING:
      return attach === A.BPF_TRACE_FENTRY || attach === A.BPF_TRACE_FEXIT ? range(0, 0) : undefined;
    case P.BPF_PROG_TYPE_SK_LOOKUP:
      return range(0, 1); // SK_DROP, SK_PASS
    case P.BPF_PROG_TYPE_NETFILTER:
      return range(0, 1); // NF_DROP, NF_ACCEPT
    default:
      return undefined;
  }
}
