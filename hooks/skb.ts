/**
 * struct __sk_buff (UAPI) offsets: the context of socket filters and tc programs, 192 bytes,
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

/** TC actions (TC_ACT_*). */
export const TcAction = {
  TC_ACT_UNSPEC: -1, TC_ACT_OK: 0, TC_ACT_RECLASSIFY: 1, TC_ACT_SHOT: 2, TC_ACT_PIPE: 3, TC_ACT_STOLEN: 4,
  TC_ACT_QUEUED: 5, TC_ACT_REPEAT: 6, TC_ACT_REDIRECT: 7, TC_ACT_TRAP: 8,
} as const;

/** Packet types (skb->pkt_type) eth_type_trans assigns. */
export const PacketType = { PACKET_HOST: 0, PACKET_BROADCAST: 1, PACKET_MULTICAST: 2, PACKET_OTHERHOST: 3 } as const;

/**
 * pktTypeOf is what eth_type_trans decides for a destination MAC on a device whose address
 * is `own` (the loopback device of test-run has 00:00:00:00:00:00).
 */
export function pktTypeOf(frame: Uint8Array, own: Uint8Array = new Uint8Array(6)): number {
  if (frame[0] & 1) return frame.subarray(0, 6).every((b) => b === 0xff) ? PacketType.PACKET_BROADCAST : PacketType.PACKET_MULTICAST;
  return frame.subarray(0, 6).every((b, i) => b === own[i]) ? PacketType.PACKET_HOST : PacketType.PACKET_OTHERHOST;
}

/**
 * SkbPacket is one skb's buffer and the fields helpers change. `data` is where the program's
 * packet starts (L3 for a socket filter under test-run, L2 for tc), `mac` the L2 header.
 */
export interface SkbPacket {
  readonly head: number;
  readonly end: number;
  mac: number;
  network: number;
  data: number;
  dataEnd: number;
  /** skb->protocol as the __be16 the context shows (its two bytes read little-endian). */
  protocol: number;
  vlanTci: number;
  vlanProto: number;
  vlanPresent: boolean;
  hash: number;
  /** skb->encapsulation: set by bpf_skb_adjust_room's encapsulating grow. */
  encapsulation?: boolean;
  redirect?: { readonly ifindex: number; readonly ingress: boolean };
  /** The socket's cookie (bpf_get_socket_cookie), given on first use. */
  cookie?: bigint;
  /** Copies sent by bpf_clone_redirect, in order: the packet from its link header as it was then. */
  clones?: { readonly ifindex: number; readonly ingress: boolean; readonly data: Uint8Array }[];
}

/** writeSkbCtx brings the context struct at `ctx` in step with `p` after a helper changed it. */
export function writeSkbCtx(dv: DataView, ctx: number, p: SkbPacket): void {
  dv.setUint32(ctx + SkBuff.len, p.dataEnd - p.data, true);
  dv.setUint32(ctx + SkBuff.protocol, p.protocol, true);
  dv.setUint32(ctx + SkBuff.vlan_present, p.vlanPresent ? 1 : 0, true);
  dv.setUint32(ctx + SkBuff.vlan_tci, p.vlanTci, true);
  dv.setUint32(ctx + SkBuff.vlan_proto, p.vlanProto, true);
  dv.setUint32(ctx + SkBuff.hash, p.hash, true);
  dv.setUint32(ctx + SkBuff.data, p.data, true);
  dv.setUint32(ctx + SkBuff.data_end, p.dataEnd, true);
}
