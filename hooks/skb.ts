import { PacketType, SkBuff } from '../uapi/skBuff.js';
import type { TunnelInfo } from './helpers/tunnel.js';

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
  /**
   * Where bpf_redirect sent it (BPF_F_INGRESS: into the device); bpf_redirect_peer (`peer`:
   * into the veth peer of `ifindex`, delivered as that device's egress would) and
   * bpf_redirect_neigh (`neigh`: out of it with the L2 header from the neighbour table, the
   * next hop given as struct bpf_redir_neigh's bytes or resolved from the packet's destination).
   */
  redirect?: { readonly ifindex: number; readonly ingress: boolean; readonly via?: 'peer' | 'neigh'; readonly nexthop?: Uint8Array };
  /** skb->ip_summed is CHECKSUM_UNNECESSARY (else CHECKSUM_NONE, as test-run and AF_PACKET give it) and its csum_level (bpf_csum_level). */
  csumUnnecessary?: boolean;
  csumLevel?: number;
  /** The tunnel metadata bpf_skb_set_tunnel_key attached (the kernel's metadata dst). */
  tunnel?: TunnelInfo;
  /** The skb has a socket (test-run makes one, sock_init_data'd, in the root cgroup); received packets have none. */
  sock?: boolean;
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
