import { SkBuff } from '../../uapi/skBuff.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { SKB_SK_POINTER } from './cgroupSkb.js';
import { inField } from './ctxField.js';
import { skbIsValidAccess } from './skbIsValidAccess.js';

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
 * only (may_access_direct_pkt_data refuses their BPF_WRITE), no LD_ABS. Verified only.
 */
export const lwtVerifierOps: Omit<VerifierOps, 'getFuncProto'> = {
  isValidAccess: ({ off, size, write }) => lwtIsValidAccess(off, size, write),
  packetFields: { data: SkBuff.data, dataEnd: SkBuff.data_end },
  pointerFields: SKB_SK_POINTER,
  mayAccessSkb: false,
  directPacketWrite: false,
};

/** lwtXmitVerifierOps: BPF_PROG_TYPE_LWT_XMIT (lwt_xmit_verifier_ops): the same context, and packet stores. */
export const lwtXmitVerifierOps: Omit<VerifierOps, 'getFuncProto'> = { ...lwtVerifierOps, directPacketWrite: true };
