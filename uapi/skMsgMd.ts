/**
 * SkMsgMd: struct sk_msg_md (UAPI) offsets: the context of sk_msg programs, 80 bytes. `data`,
 * `data_end` and `sk` are __bpf_md_ptr: 8-byte slots.
 *
 *   0 data      8 data_end   16 family   20 remote_ip4   24 local_ip4
 *  28 remote_ip6[4]   44 local_ip6[4]   60 remote_port   64 local_port   68 size   72 sk
 */
export const SkMsgMd = {
  data: 0,
  data_end: 8,
  family: 16,
  remote_ip4: 20,
  local_ip4: 24,
  remote_ip6: 28,
  local_ip6: 44,
  remote_port: 60,
  local_port: 64,
  size: 68,
  sk: 72,
  SIZE: 80,
} as const;
