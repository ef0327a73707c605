import { SkBuff } from '../../uapi/skBuff.js';
import { inField } from './ctxField.js';

/**
 * skbIsValidAccess: bpf_skb_is_valid_access (net/core/filter.c, 6.18), the rules on struct
 * __sk_buff that sk_filter_is_valid_access and tc_cls_act_is_valid_access end with: bounds,
 * alignment, whole-word pointers and timestamps, narrow reads elsewhere.
 */
export function skbIsValidAccess(off: number, size: number, write: boolean): boolean {
  if (off < 0 || off >= SkBuff.SIZE || off % size !== 0) return false;
  if (off >= SkBuff.cb && off < SkBuff.cb + 20) return off + size <= SkBuff.cb + 20;
  if (
    (off >= SkBuff.remote_ip6 && off < SkBuff.local_ip6 + 16) ||
    inField(off, SkBuff.remote_ip4) ||
    inField(off, SkBuff.local_ip4) ||
    inField(off, SkBuff.data) ||
    inField(off, SkBuff.data_meta) ||
    inField(off, SkBuff.data_end)
  )
    return size === 4;
  if (inField(off, SkBuff.flow_keys, 8)) return false;
  if (inField(off, SkBuff.hwtstamp, 8)) return !write && size === 8;
  if (inField(off, SkBuff.tstamp, 8)) return size === 8;
  if (inField(off, SkBuff.sk, 8)) return !write && size === 8;
  if (inField(off, SkBuff.tstamp_type, 1)) return false;
  if (off > SkBuff.tstamp_type && off < SkBuff.hwtstamp) return false; // padding
  // everything else: whole-word writes, narrow (1, 2, 4-byte) reads
  return write ? size === 4 : size <= 4;
}

/**
 * SKB_SK_POINTER: struct __sk_buff's `sk`, which bpf_skb_is_valid_access (shared by every skb
 * type) reads as PTR_TO_SOCK_COMMON_OR_NULL (vm/verifier/sockets.ts). At run time bpfbox's skbs
 * have no socket: the field reads 0 (NULL), where the kernel's test-run skb has one.
 */
export const SKB_SK_POINTER: Readonly<Record<number, string>> = { [SkBuff.sk]: 'sock_common_or_null' };
