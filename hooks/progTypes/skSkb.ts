import { SkBuff } from '../../uapi/skBuff.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { SKB_SK_POINTER } from './cgroupSkb.js';
import { inField } from './ctxField.js';
import { skbIsValidAccess } from './skbIsValidAccess.js';

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
export const skSkbVerifierOps: Omit<VerifierOps, 'getFuncProto'> = {
  isValidAccess: ({ off, size, write }) => skSkbIsValidAccess(off, size, write),
  packetFields: { data: SkBuff.data, dataEnd: SkBuff.data_end },
  pointerFields: SKB_SK_POINTER,
  mayAccessSkb: false,
  directPacketWrite: true,
};
