import { SkBuff } from '../../uapi/skBuff.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { SK_BASE_FUNC_PROTO, ids } from './baseFuncProto.js';
import { inField } from './ctxField.js';
import { skbIsValidAccess } from './skbIsValidAccess.js';

/**
 * SK_FILTER_FUNC_PROTO: sk_filter_func_proto (net/core/filter.c, 6.18): the skb loads, the
 * socket cookie and uid, perf output (bpf_skb_event_output), the netns cookie, then
 * bpf_sk_base_func_proto's. No bpf_csum_diff (only tc, XDP and lwt have it).
 */
export const SK_FILTER_FUNC_PROTO: readonly number[] = [
  ...ids(['skb_load_bytes', 'skb_load_bytes_relative', 'get_socket_cookie', 'get_socket_uid', 'perf_event_output', 'get_netns_cookie']),
  ...SK_BASE_FUNC_PROTO,
];
const FUNCS: ReadonlySet<number> = new Set(SK_FILTER_FUNC_PROTO);

/** sk_filter_is_valid_access (net/core/filter.c, 6.18): no packet pointers, classid, socket addresses, timestamps or wire_len; writes only to cb[]. */
function skFilterIsValidAccess(off: number, size: number, write: boolean): boolean {
  if (inField(off, SkBuff.tc_classid) || inField(off, SkBuff.data) || inField(off, SkBuff.data_meta) || inField(off, SkBuff.data_end))
    return false;
  if (off >= SkBuff.family && off < SkBuff.local_port + 4) return false;
  if (inField(off, SkBuff.tstamp, 8) || inField(off, SkBuff.wire_len) || inField(off, SkBuff.hwtstamp, 8)) return false;
  if (write && !(off >= SkBuff.cb && off < SkBuff.cb + 20)) return false;
  return skbIsValidAccess(off, size, write);
}

/**
 * skFilterVerifierOps: BPF_PROG_TYPE_SOCKET_FILTER as the verifier sees it (the kernel's
 * sk_filter_verifier_ops, net/core/filter.c): struct __sk_buff without packet pointers,
 * sk_filter_func_proto's helpers, LD_ABS and LD_IND (gen_ld_abs); no packet stores
 * (may_access_direct_pkt_data has no case for the type), no return range.
 */
export const skFilterVerifierOps: VerifierOps = {
  isValidAccess: ({ off, size, write }) => skFilterIsValidAccess(off, size, write),
  // `sk`: PTR_TO_SOCK_COMMON_OR_NULL (bpf_skb_is_valid_access), a kind bpfbox's verifier does not model (never a scalar)
  pointerFields: { [SkBuff.sk]: 'sock_common_or_null' },
  getFuncProto: (id) => FUNCS.has(id),
  mayAccessSkb: true,
  directPacketWrite: false,
};
