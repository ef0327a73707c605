import { SkBuff } from '../../uapi/skBuff.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { SK_BASE_FUNC_PROTO, ids } from './baseFuncProto.js';
import { SKB_SK_POINTER } from './cgroupSkb.js';
import { inField } from './ctxField.js';
import { skbIsValidAccess } from './skbIsValidAccess.js';

/** SK_SKB_FUNC_PROTO: sk_skb_func_proto (net/core/filter.c, 6.18), its own cases (CONFIG_INET for the lookups), then bpf_sk_base_func_proto's. */
export const SK_SKB_FUNC_PROTO: readonly number[] = [
  ...ids([
    'skb_store_bytes',
    'skb_load_bytes',
    'skb_pull_data',
    'skb_change_tail',
    'skb_change_head',
    'skb_adjust_room',
    'get_socket_cookie',
    'get_socket_uid',
    'sk_redirect_map',
    'sk_redirect_hash',
    'perf_event_output',
    'sk_lookup_tcp',
    'sk_lookup_udp',
    'sk_release',
    'skc_lookup_tcp',
  ]),
  ...SK_BASE_FUNC_PROTO,
];
const FUNCS: ReadonlySet<number> = new Set(SK_SKB_FUNC_PROTO);

/**
 * skSkbIsValidAccess: sk_skb_is_valid_access (net/core/filter.c, 6.18): no tc_classid,
 * data_meta, tstamp, wire_len or hwtstamp, and no mark at all (read or write); writes to
 * tc_index and priority only; the socket addresses readable.
 */
function skSkbIsValidAccess(off: number, size: number, write: boolean): boolean {
  if (
    inField(off, SkBuff.tc_classid) ||
    inField(off, SkBuff.data_meta) ||
    inField(off, SkBuff.tstamp, 8) ||
    inField(off, SkBuff.wire_len) ||
    inField(off, SkBuff.hwtstamp, 8)
  )
    return false;
  if (write && !(inField(off, SkBuff.tc_index) || inField(off, SkBuff.priority))) return false;
  if (inField(off, SkBuff.mark)) return false;
  return skbIsValidAccess(off, size, write);
}

/**
 * skSkbVerifierOps: BPF_PROG_TYPE_SK_SKB as the verifier sees it (sk_skb_verifier_ops,
 * net/core/filter.c): struct __sk_buff with data and data_end, packet reads and stores, no
 * LD_ABS. Verified only.
 */
export const skSkbVerifierOps: VerifierOps = {
  isValidAccess: ({ off, size, write }) => skSkbIsValidAccess(off, size, write),
  getFuncProto: (id) => FUNCS.has(id),
  packetFields: { data: SkBuff.data, dataEnd: SkBuff.data_end },
  pointerFields: SKB_SK_POINTER,
  mayAccessSkb: false,
  directPacketWrite: true,
};
