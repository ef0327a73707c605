import { SkMsgMd } from '../../uapi/skMsgMd.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { SK_BASE_FUNC_PROTO, ids } from './baseFuncProto.js';

/**
 * SK_MSG_FUNC_PROTO: sk_msg_func_proto (net/core/filter.c, 6.18), its own cases (the current
 * uid/gid and cgroup classid ones are in the base already), then bpf_sk_base_func_proto's.
 */
export const SK_MSG_FUNC_PROTO: readonly number[] = [
  ...ids([
    'msg_redirect_map',
    'msg_redirect_hash',
    'msg_apply_bytes',
    'msg_cork_bytes',
    'msg_pull_data',
    'msg_push_data',
    'msg_pop_data',
    'perf_event_output',
    'sk_storage_get',
    'sk_storage_delete',
    'get_netns_cookie',
  ]),
  ...SK_BASE_FUNC_PROTO,
];
const FUNCS: ReadonlySet<number> = new Set(SK_MSG_FUNC_PROTO);

/**
 * SK_MSG_FIELDS: sk_msg_is_valid_access's table (net/core/filter.c, 6.18): the field at each
 * offset a read may start at and the one size it must have. Everything is read-only; a read
 * anywhere else (inside a field, or of another size) is refused.
 */
const SK_MSG_FIELDS: ReadonlyMap<number, number> = new Map([
  [SkMsgMd.data, 8],
  [SkMsgMd.data_end, 8],
  [SkMsgMd.sk, 8],
  [SkMsgMd.family, 4],
  [SkMsgMd.remote_ip4, 4],
  [SkMsgMd.local_ip4, 4],
  ...[0, 1, 2, 3].map((i): [number, number] => [SkMsgMd.remote_ip6 + 4 * i, 4]),
  ...[0, 1, 2, 3].map((i): [number, number] => [SkMsgMd.local_ip6 + 4 * i, 4]),
  [SkMsgMd.remote_port, 4],
  [SkMsgMd.local_port, 4],
  [SkMsgMd.size, 4],
]);

/**
 * skMsgIsValidAccess: sk_msg_is_valid_access: no stores; aligned whole-field reads of the
 * table's fields (the 8-byte pointers are checked over their whole slot, so a 4-byte read of
 * one's upper half is refused too).
 */
function skMsgIsValidAccess(off: number, size: number, write: boolean): boolean {
  if (write || off % size !== 0) return false;
  return SK_MSG_FIELDS.get(off) === size;
}

/**
 * skMsgVerifierOps: BPF_PROG_TYPE_SK_MSG as the verifier sees it (sk_msg_verifier_ops,
 * net/core/filter.c): struct sk_msg_md read-only, data and data_end packet pointers (no
 * data_meta), packet reads and stores, `sk` a PTR_TO_SOCKET, no LD_ABS. Verified only.
 */
export const skMsgVerifierOps: VerifierOps = {
  isValidAccess: ({ off, size, write }) => skMsgIsValidAccess(off, size, write),
  getFuncProto: (id) => FUNCS.has(id),
  packetFields: { data: SkMsgMd.data, dataEnd: SkMsgMd.data_end },
  pointerFields: { [SkMsgMd.sk]: 'sock' },
  mayAccessSkb: false,
  directPacketWrite: true,
};
