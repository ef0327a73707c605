import type { LoadedProgram } from './loadedProgram.js';
import type { HookRuntime } from './runtime.js';
import { type SkbPacket, pktTypeOf } from './skb.js';
import { PacketType, SkBuff } from '../uapi/skBuff.js';
import { XDP_FRAG_SIZE, type XdpFrame, writeXdpMd } from './xdp.js';
import { ETH_HLEN } from '../uapi/ethernet.js';
import { XDP_PACKET_HEADROOM, XdpMd } from '../uapi/xdp.js';
import { XDP_MAX_LINEAR } from './testRun.js';

/**
 * IngressSlot: a received packet already in the shared memory: `room` bytes from
 * `hardStart`, the packet itself at hardStart + XDP_PACKET_HEADROOM (256), `len` bytes.
 * A slot is at least a page (XDP's frame size); the program rewrites the packet in place.
 */
export interface IngressSlot {
  readonly hardStart: number;
  readonly room: number;
  readonly len: number;
  /** The length the packet had on the wire (skb wire_len). */
  readonly wireLen: number;
  readonly ifindex: number;
  /** The receive queue: the worker (emulated CPU) the flow hash chose. */
  readonly rxQueue: number;
  /** The receive timestamp in nanoseconds (skb tstamp), when known. */
  readonly tstamp?: bigint;
  /** A DEVMAP entry's program runs with the interface the frame leaves by (xdp_md egress_ifindex); else 0. */
  readonly egressIfindex?: number;
}

/** IngressResult: the return value and where the packet is now (plus any bytes past the linear part). */
export interface IngressResult {
  readonly retval: number;
  readonly start: number;
  readonly len: number;
  readonly tail?: Uint8Array;
  readonly redirect?: XdpFrame['redirect'] | SkbPacket['redirect'];
  /** The tunnel metadata a tc program attached (bpf_skb_set_tunnel_key): what the encapsulating device would use. */
  readonly tunnel?: SkbPacket['tunnel'];
  readonly clones?: SkbPacket['clones'];
}

/**
 * xdpIngress runs an XDP program on a received packet as a driver would: data after 256 bytes
 * of headroom, the frame a page long; a packet longer than the linear part continues in
 * page-sized fragments (multi-buffer XDP). The packet that leaves starts at data.
 */
export function xdpIngress(rt: HookRuntime, prog: LoadedProgram, s: IngressSlot): IngressResult {
  const mem = rt.kernel.memory;
  const data = s.hardStart + XDP_PACKET_HEADROOM;
  const linear = Math.min(s.len, XDP_MAX_LINEAR);
  const frags = s.len > linear ? mem.u8.slice(data + linear, data + s.len) : undefined;
  const frame: XdpFrame = {
    hardStart: s.hardStart,
    end: s.hardStart + XDP_FRAG_SIZE,
    data,
    dataEnd: data + linear,
    dataMeta: data,
    frags,
    fragSizes: frags
      ? Array.from({ length: Math.ceil(frags.length / XDP_FRAG_SIZE) }, (_, i) => Math.min(XDP_FRAG_SIZE, frags.length - i * XDP_FRAG_SIZE))
      : undefined,
  };
  const ctx = rt.ctx.start;
  const dv = mem.view;
  writeXdpMd(dv, ctx, frame);
  dv.setUint32(ctx + XdpMd.ingress_ifindex, s.ifindex, true);
  dv.setUint32(ctx + XdpMd.rx_queue_index, s.rxQueue, true);
  dv.setUint32(ctx + XdpMd.egress_ifindex, s.egressIfindex ?? 0, true);
  rt.current = { kind: 'xdp', frame, ctx };
  try {
    const retval = rt.prepare(prog).run32(ctx);
    return {
      retval,
      start: frame.data,
      len: frame.dataEnd - frame.data,
      tail: frame.frags?.length ? frame.frags : undefined,
      redirect: frame.redirect,
    };
  } finally {
    rt.current = { kind: 'none' };
  }
}

/**
 * skbIngress runs a tc program (`l2`, at the link header) or a socket filter attached to a
 * packet socket (also at the link header: packet_rcv pushes the MAC header back before
 * running the filter) on a received packet, after eth_type_trans: protocol, pkt_type.
 * Packets shorter than an Ethernet header never become an skb (the caller drops them).
 */
export function skbIngress(rt: HookRuntime, prog: LoadedProgram, s: IngressSlot): IngressResult {
  const mem = rt.kernel.memory;
  const mac = s.hardStart + XDP_PACKET_HEADROOM;
  const pkt: SkbPacket = {
    head: s.hardStart,
    end: s.hardStart + s.room,
    mac,
    network: mac + ETH_HLEN,
    data: mac,
    dataEnd: mac + s.len,
    protocol: mem.u8[mac + 12] | (mem.u8[mac + 13] << 8),
    vlanTci: 0,
    vlanProto: 0,
    vlanPresent: false,
    hash: 0,
  };
  const ctx = rt.ctx.start;
  const dv = mem.view;
  mem.u8.fill(0, ctx, ctx + SkBuff.SIZE);
  dv.setUint32(ctx + SkBuff.len, s.len, true);
  dv.setUint32(ctx + SkBuff.pkt_type, pktTypeOf(mem.u8.subarray(mac, mac + 6)) ?? PacketType.PACKET_HOST, true);
  dv.setUint32(ctx + SkBuff.protocol, pkt.protocol, true);
  dv.setUint32(ctx + SkBuff.queue_mapping, s.rxQueue, true);
  dv.setUint32(ctx + SkBuff.ifindex, s.ifindex, true);
  dv.setUint32(ctx + SkBuff.ingress_ifindex, s.ifindex, true);
  dv.setUint32(ctx + SkBuff.data, pkt.data, true);
  dv.setUint32(ctx + SkBuff.data_end, pkt.dataEnd, true);
  dv.setUint32(ctx + SkBuff.data_meta, pkt.data, true);
  dv.setUint32(ctx + SkBuff.wire_len, s.wireLen, true);
  if (s.tstamp !== undefined) dv.setBigUint64(ctx + SkBuff.tstamp, s.tstamp, true);
  rt.current = { kind: 'skb', pkt, ctx, l2: true };
  try {
    const retval = rt.prepare(prog).run32(ctx);
    return { retval, start: pkt.mac, len: pkt.dataEnd - pkt.mac, redirect: pkt.redirect, clones: pkt.clones, tunnel: pkt.tunnel };
  } finally {
    rt.current = { kind: 'none' };
  }
}
