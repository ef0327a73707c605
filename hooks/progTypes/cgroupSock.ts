import { BpfSock } from '../../uapi/bpfSock.js';
import { AttachType } from '../../uapi/progType.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { BASE_FUNC_PROTO, ids } from './baseFuncProto.js';
import { inField } from './ctxField.js';

/**
 * SOCK_FILTER_FUNC_PROTO: sock_filter_func_proto (net/core/filter.c, 6.18):
 * cgroup_common_func_proto's (kernel/bpf/cgroup.c: local storage, and the retval helpers the
 * socket hooks have), its own cases, then bpf_base_func_proto's (no socket casts).
 */
export const SOCK_FILTER_FUNC_PROTO: readonly number[] = [
  ...ids([
    'get_local_storage',
    'get_retval',
    'set_retval',
    'get_socket_cookie',
    'get_netns_cookie',
    'perf_event_output',
    'sk_storage_get',
    'ktime_get_coarse_ns',
  ]),
  ...BASE_FUNC_PROTO,
];
const FUNCS: ReadonlySet<number> = new Set(SOCK_FILTER_FUNC_PROTO);

/** The bpf_sock fields bpf_sock_is_valid_access lets a program read narrowly (1, 2 or 4 bytes) where they start. */
const NARROW_AT: ReadonlySet<number> = new Set([
  BpfSock.state,
  BpfSock.family,
  BpfSock.type,
  BpfSock.protocol,
  BpfSock.src_port,
  BpfSock.rx_queue_mapping,
]);

const narrowOk = (size: number, fieldSize: number): boolean => size <= fieldSize && (size & (size - 1)) === 0;
const inIp6 = (off: number, field: number): boolean => off >= field && off < field + 16;

/**
 * bpfSockIsValidAccess: bpf_sock_is_valid_access (net/core/filter.c, 6.18): narrow reads of
 * the fields NARROW_AT names (at their start only) and of the addresses (anywhere in them);
 * dst_port a 2-byte field (or a 4-byte read); its padding refused; everything else whole words.
 */
export function bpfSockIsValidAccess(off: number, size: number): boolean {
  if (off < 0 || off >= BpfSock.SIZE || off % size !== 0) return false;
  if (NARROW_AT.has(off)) return narrowOk(size, 4);
  if (inField(off, BpfSock.src_ip4) || inField(off, BpfSock.dst_ip4) || inIp6(off, BpfSock.src_ip6) || inIp6(off, BpfSock.dst_ip6))
    return narrowOk(size, 4);
  if (inField(off, BpfSock.dst_port, 2)) return narrowOk(size, size === 4 ? 4 : 2);
  if (inField(off, BpfSock.dst_port + 2, 2)) return false;
  return size === 4;
}

const A = AttachType;

/**
 * sockFilterCheckAttachType: __sock_filter_check_attach_type: bound_dev_if, mark and priority
 * (exactly at their offsets) read and written by sock_create and sock_release programs only;
 * src_ip4 read by post_bind4 programs, src_ip6 by post_bind6, src_port by both; everything
 * else read-only.
 */
function sockFilterCheckAttachType(off: number, write: boolean, attach: number): boolean {
  if (off === BpfSock.bound_dev_if || off === BpfSock.mark || off === BpfSock.priority)
    return attach === A.BPF_CGROUP_INET_SOCK_CREATE || attach === A.BPF_CGROUP_INET_SOCK_RELEASE;
  if (inField(off, BpfSock.src_ip4) && attach !== A.BPF_CGROUP_INET4_POST_BIND) return false;
  if (inIp6(off, BpfSock.src_ip6) && attach !== A.BPF_CGROUP_INET6_POST_BIND) return false;
  if (inField(off, BpfSock.src_port) && attach !== A.BPF_CGROUP_INET4_POST_BIND && attach !== A.BPF_CGROUP_INET6_POST_BIND) return false;
  return !write;
}

/**
 * cgroupSockVerifierOps: BPF_PROG_TYPE_CGROUP_SOCK loaded for `attach` (cg_sock_verifier_ops,
 * net/core/filter.c: sock_filter_is_valid_access): struct bpf_sock, what the hook may touch
 * (an expected_attach_type of 0 is BPF_CGROUP_INET_SOCK_CREATE, as bpf_prog_load_fixup_attach_type
 * makes it), sock_filter_func_proto's helpers; no packet, no LD_ABS. Verified only.
 */
export function cgroupSockVerifierOps(attach: number): VerifierOps {
  const hook = attach === 0 ? A.BPF_CGROUP_INET_SOCK_CREATE : attach;
  return {
    isValidAccess: ({ off, size, write }) => bpfSockIsValidAccess(off, size) && sockFilterCheckAttachType(off, write, hook),
    getFuncProto: (id) => FUNCS.has(id),
    mayAccessSkb: false,
    directPacketWrite: false,
  };
}
