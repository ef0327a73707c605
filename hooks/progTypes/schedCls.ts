import { SkBuff } from '../../uapi/skBuff.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { SK_BASE_FUNC_PROTO, ids } from './baseFuncProto.js';
import { inField } from './ctxField.js';
import { skbIsValidAccess } from './skbIsValidAccess.js';

/**
 * TC_CLS_ACT_FUNC_PROTO: tc_cls_act_func_proto (net/core/filter.c, 6.18), its own cases,
 * then bpf_sk_base_func_proto's. The xfrm state needs CONFIG_XFRM, the socket lookups and
 * syncookie helpers CONFIG_INET, the raw syncookie ones CONFIG_SYN_COOKIES.
 */
export const TC_CLS_ACT_FUNC_PROTO: readonly number[] = [
  ...ids([
    'skb_store_bytes',
    'skb_load_bytes',
    'skb_load_bytes_relative',
    'skb_pull_data',
    'csum_diff',
    'csum_update',
    'csum_level',
    'l3_csum_replace',
    'l4_csum_replace',
    'clone_redirect',
    'get_cgroup_classid',
    'skb_vlan_push',
    'skb_vlan_pop',
    'skb_change_proto',
    'skb_change_type',
    'skb_adjust_room',
    'skb_change_tail',
    'skb_change_head',
    'skb_get_tunnel_key',
    'redirect',
    'skb_set_tunnel_key',
    'skb_get_tunnel_opt',
    'skb_set_tunnel_opt',
    'redirect_neigh',
    'redirect_peer',
    'get_route_realm',
    'get_hash_recalc',
    'set_hash_invalid',
    'set_hash',
    'perf_event_output',
    'get_smp_processor_id',
    'skb_under_cgroup',
    'get_socket_cookie',
    'get_socket_uid',
    'fib_lookup',
    'check_mtu',
    'sk_fullsock',
    'sk_storage_get',
    'sk_storage_delete',
    'skb_get_xfrm_state',
    'skb_cgroup_classid',
    'skb_cgroup_id',
    'skb_ancestor_cgroup_id',
    'sk_lookup_tcp',
    'sk_lookup_udp',
    'sk_release',
    'tcp_sock',
    'get_listener_sock',
    'skc_lookup_tcp',
    'tcp_check_syncookie',
    'skb_ecn_set_ce',
    'tcp_gen_syncookie',
    'sk_assign',
    'skb_set_tstamp',
    'tcp_raw_gen_syncookie_ipv4',
    'tcp_raw_gen_syncookie_ipv6',
    'tcp_raw_check_syncookie_ipv4',
    'tcp_raw_check_syncookie_ipv6',
    'get_netns_cookie',
  ]),
  ...SK_BASE_FUNC_PROTO,
];
const FUNCS: ReadonlySet<number> = new Set(TC_CLS_ACT_FUNC_PROTO);

/** tc_cls_act_is_valid_access (net/core/filter.c, 6.18): writes to mark, tc_index, priority, tc_classid, cb[], tstamp, queue_mapping; no socket addresses. */
function tcClsActIsValidAccess(off: number, size: number, write: boolean): boolean {
  if (write) {
    const writable =
      inField(off, SkBuff.mark) ||
      inField(off, SkBuff.tc_index) ||
      inField(off, SkBuff.priority) ||
      inField(off, SkBuff.tc_classid) ||
      (off >= SkBuff.cb && off < SkBuff.cb + 20) ||
      inField(off, SkBuff.tstamp, 8) ||
      inField(off, SkBuff.queue_mapping);
    if (!writable) return false;
  }
  if (off >= SkBuff.family && off < SkBuff.local_port + 4) return false;
  // tstamp_type: a one-byte read (tc only)
  if (off === SkBuff.tstamp_type) return size === 1;
  return skbIsValidAccess(off, size, write);
}

/**
 * tcClsActVerifierOps: BPF_PROG_TYPE_SCHED_CLS and BPF_PROG_TYPE_SCHED_ACT as the verifier
 * sees them (the kernel's tc_cls_act_verifier_ops, net/core/filter.c, serves both): struct
 * __sk_buff with its data, data_end and data_meta packet pointers, tc_cls_act_func_proto's
 * helpers, LD_ABS and LD_IND (gen_ld_abs), packet stores; no return range.
 */
export const tcClsActVerifierOps: VerifierOps = {
  isValidAccess: ({ off, size, write }) => tcClsActIsValidAccess(off, size, write),
  // `sk`: PTR_TO_SOCK_COMMON_OR_NULL (bpf_skb_is_valid_access), a kind bpfbox's verifier does not model (never a scalar)
  pointerFields: { [SkBuff.sk]: 'sock_common_or_null' },
  packetFields: { data: SkBuff.data, dataEnd: SkBuff.data_end, dataMeta: SkBuff.data_meta },
  getFuncProto: (id) => FUNCS.has(id),
  mayAccessSkb: true,
  directPacketWrite: true,
};
