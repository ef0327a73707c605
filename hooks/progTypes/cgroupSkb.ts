import { SkBuff } from '../../uapi/skBuff.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { inField } from './ctxField.js';
import { skbIsValidAccess } from './skbIsValidAccess.js';

/**
 * SKB_SK_POINTER: struct __sk_buff's `sk`, which bpf_skb_is_valid_access reads as
 * PTR_TO_SOCK_COMMON_OR_NULL (a kind bpfbox's verifier does not model).
 */
export const SKB_SK_POINTER: Readonly<Record<number, string>> = { [SkBuff.sk]: 'sock_common_or_null' };

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
 * Verified only: bpfbox does not run the type; its helpers and return range are the fallback's.
 */
export const cgSkbVerifierOps: Omit<VerifierOps, 'getFuncProto'> = {
  isValidAccess: ({ off, size, write }) => cgSkbIsValidAccess(off, size, write),
  packetFields: { data: SkBuff.data, dataEnd: SkBuff.data_end },
  pointerFields: SKB_SK_POINTER,
  mayAccessSkb: false,
  directPacketWrite: false,
};
