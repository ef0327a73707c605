import { SkBuff } from '../../uapi/skBuff.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { BASE_FUNC_PROTO } from './baseFuncProto.js';
import { inField } from './ctxField.js';
import { skbIsValidAccess } from './skbIsValidAccess.js';

/** sk_filter_func_proto: the base helpers, perf output, skb loads, csum_diff, the socket cookie and uid. */
const FUNCS: ReadonlySet<number> = new Set([...BASE_FUNC_PROTO, 25, 26, 28, 46, 47, 68]);

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
  getFuncProto: (id) => FUNCS.has(id),
  mayAccessSkb: true,
  directPacketWrite: false,
};
