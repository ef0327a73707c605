import { SkBuff } from '../../uapi/skBuff.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { BASE_FUNC_PROTO } from './baseFuncProto.js';
import { inField } from './ctxField.js';
import { skbIsValidAccess } from './skbIsValidAccess.js';

/** tc_cls_act_func_proto: the base helpers, the skb store, checksum, redirect, vlan, resize and hash helpers, fib lookup. */
const FUNCS: ReadonlySet<number> = new Set([
  ...BASE_FUNC_PROTO,
  9,
  10,
  11,
  13,
  18,
  19,
  23,
  25,
  26,
  28,
  31,
  34,
  38,
  39,
  43,
  48,
  50,
  51,
  68,
  69,
]);

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
  packetFields: { data: SkBuff.data, dataEnd: SkBuff.data_end, dataMeta: SkBuff.data_meta },
  getFuncProto: (id) => FUNCS.has(id),
  mayAccessSkb: true,
  directPacketWrite: true,
};
