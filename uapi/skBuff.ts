/**
 * SkBuff: struct __sk_buff (UAPI) offsets: the context of socket filters and tc programs, 192 bytes,
 * a byte-exact copy, with `data`, `data_end` and `data_meta` holding real 32-bit addresses.
 */
export const SkBuff = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24,
  vlan_proto: 28, priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68,
  tc_classid: 72, data: 76, data_end: 80, napi_id: 84, family: 88, remote_ip4: 92, local_ip4: 96,
  remote_ip6: 100, local_ip6: 116, remote_port: 132, local_port: 136, data_meta: 140, flow_keys: 144,
  tstamp: 152, wire_len: 160, gso_segs: 164, sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184,
  SIZE: 192,
} as const;

/** TcAction: TC actions (TC_ACT_*). */
export const TcAction = {
  TC_ACT_UNSPEC: -1, TC_ACT_OK: 0, TC_ACT_RECLASSIFY: 1, TC_ACT_SHOT: 2, TC_ACT_PIPE: 3, TC_ACT_STOLEN: 4,
  TC_ACT_QUEUED: 5, TC_ACT_REPEAT: 6, TC_ACT_REDIRECT: 7, TC_ACT_TRAP: 8,
} as const;

/** Packet types (skb->pkt_type) eth_type_trans assigns. */
export const PacketType = { PACKET_HOST: 0, PACKET_BROADCAST: 1, PACKET_MULTICAST: 2, PACKET_OTHERHOST: 3 } as const;
