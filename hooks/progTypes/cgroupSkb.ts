import { SkBuff } from '../../uapi/skBuff.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { ids } from './baseFuncProto.js';
import { inField } from './ctxField.js';
import { SKB_SK_POINTER, skbIsValidAccess } from './skbIsValidAccess.js';
import { SK_FILTER_FUNC_PROTO } from './socketFilter.js';

/**
 * CG_SKB_FUNC_PROTO: cg_skb_func_proto (net/core/filter.c, 6.18) for an ingress or egress
 * program: cgroup_common_func_proto's bpf_get_local_storage (kernel/bpf/cgroup.c; no
 * get/set_retval for these hooks), its own cases (CONFIG_SOCK_CGROUP_DATA, CONFIG_INET), then
 * sk_filter_func_proto's.
 */
export const CG_SKB_FUNC_PROTO: readonly number[] = [
  ...ids([
    'get_local_storage',
    'sk_fullsock',
    'sk_storage_get',
    'sk_storage_delete',
    'skb_cgroup_id',
    'skb_ancestor_cgroup_id',
    'sk_cgroup_id',
    'sk_ancestor_cgroup_id',
    'sk_lookup_tcp',
    'sk_lookup_udp',
    'sk_release',
    'skc_lookup_tcp',
    'tcp_sock',
    'get_listener_sock',
    'skb_ecn_set_ce',
  ]),
  ...SK_FILTER_FUNC_PROTO,
];
const FUNCS: ReadonlySet<number> = new Set(CG_SKB_FUNC_PROTO);

export { SKB_SK_POINTER } from './skbIsValidAccess.js';

/**
 * cgSkbIsValidAccess: cg_skb_is_valid_access (net/core/filter.c, 6.18): no tc_classid,
 * data_meta or wire_len; data and data_end (with CAP_BPF, which a root loader has); the socket
 * addresses readable; writes to mark, priority, cb[] and (CAP_BPF) tstamp only.
 */
function cgSkbIsValidAccess(off: number, size: number, write: boolean): boolean {
  if (inField(off, SkBuff.tc_classid) || inField(off, SkBuff.data_meta) || inField(off, SkBuff.wire_len)) return false;
  if (write) {
    const writable =
      inField(off, SkBuff.mark) ||
      inField(off, SkBuff.priority) ||
      (off >= SkBuff.cb && off < SkBuff.cb + 20) ||
      inField(off, SkBuff.tstamp, 8);
    if (!writable) return false;
  }
  return skbIsValidAccess(off, size, write);
}

/**
 * cgSkbVerifierOps: BPF_PROG_TYPE_CGROUP_SKB as the verifier sees it (cg_skb_verifier_ops,
 * net/core/filter.c): struct __sk_buff with data and data_end packet pointers, packet reads
 * but no packet stores (may_access_direct_pkt_data refuses BPF_WRITE for the type), no LD_ABS.
 * Verified only: bpfbox does not run the type; its return range is the fallback's.
 */
export const cgSkbVerifierOps: VerifierOps = {
  isValidAccess: ({ off, size, write }) => cgSkbIsValidAccess(off, size, write),
  getFuncProto: (id) => FUNCS.has(id),
  packetFields: { data: SkBuff.data, dataEnd: SkBuff.data_end },
  pointerFields: SKB_SK_POINTER,
  mayAccessSkb: false,
  directPacketWrite: false,
};
