import { SkBuff } from '../../uapi/skBuff.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { SK_BASE_FUNC_PROTO, ids } from './baseFuncProto.js';
import { SKB_SK_POINTER } from './cgroupSkb.js';
import { inField } from './ctxField.js';
import { skbIsValidAccess } from './skbIsValidAccess.js';

/**
 * LWT_OUT_FUNC_PROTO: lwt_out_func_proto (net/core/filter.c, 6.18): packet reads, then
 * bpf_sk_base_func_proto's. LWT_IN_FUNC_PROTO adds bpf_lwt_push_encap; LWT_XMIT_FUNC_PROTO
 * (lwt_xmit_func_proto) the tunnel keys, redirects, packet stores and checksums too.
 */
export const LWT_OUT_FUNC_PROTO: readonly number[] = [
  ...ids([
    'skb_load_bytes',
    'skb_pull_data',
    'csum_diff',
    'get_cgroup_classid',
    'get_route_realm',
    'get_hash_recalc',
    'perf_event_output',
    'get_smp_processor_id',
    'skb_under_cgroup',
  ]),
  ...SK_BASE_FUNC_PROTO,
];
export const LWT_IN_FUNC_PROTO: readonly number[] = [...ids(['lwt_push_encap']), ...LWT_OUT_FUNC_PROTO];
export const LWT_XMIT_FUNC_PROTO: readonly number[] = [
  ...ids([
    'skb_get_tunnel_key',
    'skb_set_tunnel_key',
    'skb_get_tunnel_opt',
    'skb_set_tunnel_opt',
    'redirect',
    'clone_redirect',
    'skb_change_tail',
    'skb_change_head',
    'skb_store_bytes',
    'csum_update',
    'csum_level',
    'l3_csum_replace',
    'l4_csum_replace',
    'set_hash_invalid',
    'lwt_push_encap',
  ]),
  ...LWT_OUT_FUNC_PROTO,
];
const funcs = (list: readonly number[]) => {
  const set: ReadonlySet<number> = new Set(list);
  return (id: number) => set.has(id);
};

/**
 * lwtIsValidAccess: lwt_is_valid_access (net/core/filter.c, 6.18), shared by lwt_in, lwt_out,
 * lwt_xmit and lwt_seg6local: no tc_classid, socket addresses, data_meta, tstamp, wire_len or
 * hwtstamp; data and data_end are packet pointers; writes to mark, priority and cb[] only.
 */
function lwtIsValidAccess(off: number, size: number, write: boolean): boolean {
  if (
    inField(off, SkBuff.tc_classid) ||
    (off >= SkBuff.family && off < SkBuff.local_port + 4) ||
    inField(off, SkBuff.data_meta) ||
    inField(off, SkBuff.tstamp, 8) ||
    inField(off, SkBuff.wire_len) ||
    inField(off, SkBuff.hwtstamp, 8)
  )
    return false;
  if (write && !(inField(off, SkBuff.mark) || inField(off, SkBuff.priority) || (off >= SkBuff.cb && off < SkBuff.cb + 20))) return false;
  return skbIsValidAccess(off, size, write);
}

/**
 * lwtVerifierOps: BPF_PROG_TYPE_LWT_IN, _OUT and _SEG6LOCAL as the verifier sees them
 * (lwt_in/out/seg6local_verifier_ops, net/core/filter.c): lwt_is_valid_access, packet reads
 * only (may_access_direct_pkt_data refuses their BPF_WRITE), no LD_ABS. Verified only; the
 * helpers are each type's (lwtOutVerifierOps, lwtInVerifierOps; seg6local's are not tabled:
 * the fallback's).
 */
export const lwtVerifierOps: Omit<VerifierOps, 'getFuncProto'> = {
  isValidAccess: ({ off, size, write }) => lwtIsValidAccess(off, size, write),
  packetFields: { data: SkBuff.data, dataEnd: SkBuff.data_end },
  pointerFields: SKB_SK_POINTER,
  mayAccessSkb: false,
  directPacketWrite: false,
};

/** lwtInVerifierOps: BPF_PROG_TYPE_LWT_IN with lwt_in_func_proto's helpers. */
export const lwtInVerifierOps: VerifierOps = { ...lwtVerifierOps, getFuncProto: funcs(LWT_IN_FUNC_PROTO) };

/** lwtOutVerifierOps: BPF_PROG_TYPE_LWT_OUT with lwt_out_func_proto's helpers. */
export const lwtOutVerifierOps: VerifierOps = { ...lwtVerifierOps, getFuncProto: funcs(LWT_OUT_FUNC_PROTO) };

/** lwtXmitVerifierOps: BPF_PROG_TYPE_LWT_XMIT (lwt_xmit_verifier_ops): the same context, packet stores, lwt_xmit_func_proto's helpers. */
export const lwtXmitVerifierOps: VerifierOps = { ...lwtVerifierOps, directPacketWrite: true, getFuncProto: funcs(LWT_XMIT_FUNC_PROTO) };
