import { XdpMd } from '../../uapi/xdp.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { SK_BASE_FUNC_PROTO, ids } from './baseFuncProto.js';
import { inField } from './ctxField.js';

/**
 * XDP_FUNC_PROTO: xdp_func_proto (net/core/filter.c, 6.18), its own cases (the kernel's order),
 * then bpf_sk_base_func_proto's. The socket lookups and syncookie helpers need CONFIG_INET
 * (and CONFIG_SYN_COOKIES for the syncookie ones).
 */
export const XDP_FUNC_PROTO: readonly number[] = [
  ...ids([
    'perf_event_output',
    'get_smp_processor_id',
    'csum_diff',
    'xdp_adjust_head',
    'xdp_adjust_meta',
    'redirect',
    'redirect_map',
    'xdp_adjust_tail',
    'xdp_get_buff_len',
    'xdp_load_bytes',
    'xdp_store_bytes',
    'fib_lookup',
    'check_mtu',
    'sk_lookup_udp',
    'sk_lookup_tcp',
    'sk_release',
    'skc_lookup_tcp',
    'tcp_check_syncookie',
    'tcp_gen_syncookie',
    'tcp_raw_gen_syncookie_ipv4',
    'tcp_raw_gen_syncookie_ipv6',
    'tcp_raw_check_syncookie_ipv4',
    'tcp_raw_check_syncookie_ipv6',
  ]),
  ...SK_BASE_FUNC_PROTO,
];
const FUNCS: ReadonlySet<number> = new Set(XDP_FUNC_PROTO);

/** xdp_is_valid_access (net/core/filter.c, 6.18): read-only 4-byte fields; egress_ifindex only for devmap programs. */
function xdpIsValidAccess(off: number, size: number, write: boolean, devmap = false): boolean {
  if (inField(off, XdpMd.egress_ifindex) && !devmap) return false;
  if (write) return false;
  return off >= 0 && off < XdpMd.SIZE && off % size === 0 && size === 4;
}

/**
 * xdpVerifierOps: BPF_PROG_TYPE_XDP as the verifier sees it (the kernel's xdp_verifier_ops,
 * net/core/filter.c): struct xdp_md read-only, its data, data_end and data_meta packet
 * pointers, xdp_func_proto's helpers; packet stores allowed, no LD_ABS, no return range.
 */
export const xdpVerifierOps: VerifierOps = {
  isValidAccess: ({ off, size, write }) => xdpIsValidAccess(off, size, write),
  packetFields: { data: XdpMd.data, dataEnd: XdpMd.data_end, dataMeta: XdpMd.data_meta },
  getFuncProto: (id) => FUNCS.has(id),
  mayAccessSkb: false,
  directPacketWrite: true,
};

/** xdpDevmapVerifierOps: an XDP program loaded for a DEVMAP entry (expected_attach_type BPF_XDP_DEVMAP): it may also read egress_ifindex. */
export const xdpDevmapVerifierOps: VerifierOps = {
  ...xdpVerifierOps,
  isValidAccess: ({ off, size, write }) => xdpIsValidAccess(off, size, write, true),
};
