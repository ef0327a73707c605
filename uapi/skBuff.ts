/**
 * SkBuff: struct __sk_buff (UAPI) offsets: the context of socket filters and tc programs, 192 bytes,
 * a byte-exact copy, with `data`, `data_end` and `data_meta` holding real 32-bit addresses.
 */
export const SkBuff = {
  len: 0,
  pkt_type: 4,
  mark: 8,
  queue_mapping: 12,
  protocol: 16,
  vlan_present: 20,
  vlan_tci: 24,
  vlan_proto: 28,
  priority: 32,
  ingress_ifindex: 36,
  ifindex: 40,
  tc_index: 44,
  cb: 48,
  hash: 68,
  tc_classid: 72,
  data: 76,
  data_end: 80,
  napi_id: 84,
  family: 88,
  remote_ip4: 92,
  local_ip4: 96,
  remote_ip6: 100,
  local_ip6: 116,
  remote_port: 132,
  local_port: 136,
  data_meta: 140,
  flow_keys: 144,
  tstamp: 152,
  wire_len: 160,
  gso_segs: 164,
  sk: 168,
  gso_size: 176,
  tstamp_type: 180,
  hwtstamp: 184,
  SIZE: 192,
} as const;

/** TcAction: TC actions (TC_ACT_*). */
export const TcAction = {
  TC_ACT_UNSPEC: -1,
  TC_ACT_OK: 0,
  TC_ACT_RECLASSIFY: 1,
  TC_ACT_SHOT: 2,
  TC_ACT_PIPE: 3,
  TC_ACT_STOLEN: 4,
  TC_ACT_QUEUED: 5,
  TC_ACT_REPEAT: 6,
  TC_ACT_REDIRECT: 7,
  TC_ACT_TRAP: 8,
} as const;

/** Packet types (skb->pkt_type) eth_type_trans assigns. */
export const PacketType = { PACKET_HOST: 0, PACKET_BROADCAST: 1, PACKET_MULTICAST: 2, PACKET_OTHERHOST: 3 } as const;

/** AdjRoomMode: bpf_skb_adjust_room's modes (`enum bpf_adj_room_mode`). */
export const AdjRoomMode = { BPF_ADJ_ROOM_NET: 0, BPF_ADJ_ROOM_MAC: 1 } as const;

/**
 * AdjRoomFlag: bpf_skb_adjust_room's flags (`BPF_F_ADJ_ROOM_*`, without the prefix), as the
 * helper's 64-bit argument holds them; ENCAP_L2_MASK is the inner L2 length's byte (bits 56-63).
 */
export const AdjRoomFlag = {
  FIXED_GSO: 1n,
  ENCAP_L3_IPV4: 2n,
  ENCAP_L3_IPV6: 4n,
  ENCAP_L4_GRE: 8n,
  ENCAP_L4_UDP: 16n,
  NO_CSUM_RESET: 32n,
  ENCAP_L2_ETH: 64n,
  DECAP_L3_IPV4: 128n,
  DECAP_L3_IPV6: 256n,
  ENCAP_L2_MASK: 0xffn << 56n,
} as const;
