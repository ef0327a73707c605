import { AdjRoomFlag, AdjRoomMode } from '../../uapi/skBuff.js';
import { ETH_P_IP, ETH_P_IPV6, htons16 } from '../../uapi/ethernet.js';
import { Errno } from '../../uapi/errno.js';
import { type Helper, argS32, argU32, negErrno as neg } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';
import { type SkbPacket, writeSkbCtx } from '../skb.js';

/** BPF_SKB_MAX_LEN: SKB_MAX_ALLOC, four pages less the shared info (x86-64). */
const BPF_SKB_MAX_LEN = 16384 - 320;
const PROTO_IP = htons16(ETH_P_IP);
const PROTO_IPV6 = htons16(ETH_P_IPV6);
const { BPF_ADJ_ROOM_NET, BPF_ADJ_ROOM_MAC } = AdjRoomMode;
const F = AdjRoomFlag;
const ENCAP_L3 = F.ENCAP_L3_IPV4 | F.ENCAP_L3_IPV6;
const DECAP_L3 = F.DECAP_L3_IPV4 | F.DECAP_L3_IPV6;
const ALLOWED = F.FIXED_GSO | ENCAP_L3 | F.ENCAP_L4_GRE | F.ENCAP_L4_UDP | F.ENCAP_L2_ETH | F.ENCAP_L2_MASK | DECAP_L3 | F.NO_CSUM_RESET;

/**
 * skbResizeHelpers: the tc helpers that change an skb's size, with the kernel's limits
 * (net/core/filter.c): bpf_skb_change_tail (38), bpf_skb_change_head (43) and
 * bpf_skb_adjust_room (50). New bytes are zeros; when the room before the packet runs out
 * the packet moves (the kernel's skb_cow_head reallocates).
 */
export function skbResizeHelpers(rt: HookRuntime): Helper[] {
  const mem = () => rt.kernel.memory;
  const current = () => (rt.current.kind === 'skb' ? rt.current : undefined);
  const sync = () => {
    const c = current();
    if (c) writeSkbCtx(mem().view, c.ctx, c.pkt);
  };
  /** headroom makes `n` bytes of room before data, moving the packet up if needed; false if it cannot. */
  const headroom = (p: SkbPacket, n: number): boolean => {
    if (p.data - n >= p.head) return true;
    const shift = n - (p.data - p.head);
    if (p.dataEnd + shift > p.end) return false;
    mem().u8.copyWithin(p.data + shift, p.data, p.dataEnd);
    p.data += shift;
    p.dataEnd += shift;
    p.mac += shift;
    p.network += shift;
    return true;
  };
  /** netBaseLen is bpf_skb_net_base_len: the fixed IP header length, or ~0 for other protocols. */
  const netBaseLen = (p: SkbPacket) => (p.protocol === PROTO_IP ? 20 : p.protocol === PROTO_IPV6 ? 40 : 0xffffffff);

  return [
    {
      id: 38,
      name: 'bpf_skb_change_tail',
      fn: (_skb, newLen, flags) => {
        // no flags, at most BPF_SKB_MAX_LEN, not into the headers before the network header
        const c = current();
        if (!c) return neg(Errno.EINVAL);
        const p = c.pkt;
        const n = argU32(newLen);
        if (flags !== 0n || n > BPF_SKB_MAX_LEN || n < p.network - p.data || p.data + n > p.end) return neg(Errno.EINVAL);
        if (n > p.dataEnd - p.data) mem().u8.fill(0, p.dataEnd, p.data + n);
        p.dataEnd = p.data + n;
        sync();
        return 0n;
      },
    },
    {
      id: 43,
      name: 'bpf_skb_change_head',
      fn: (_skb, headRoom, flags) => {
        // no flags, at most BPF_SKB_MAX_LEN; the new room is zeros and becomes the link header
        const c = current();
        if (!c) return neg(Errno.EINVAL);
        const p = c.pkt;
        const room = argU32(headRoom);
        if (flags !== 0n || p.dataEnd - p.data + room > BPF_SKB_MAX_LEN) return neg(Errno.EINVAL);
        if (!headroom(p, room)) return neg(Errno.ENOMEM);
        p.data -= room;
        mem().u8.fill(0, p.data, p.data + room);
        p.mac = p.data;
        sync();
        return 0n;
      },
    },
    {
      id: 50,
      name: 'bpf_skb_adjust_room',
      fn: (_skb, lenDiff, mode, flags) => {
        const c = current();
        if (!c) return neg(Errno.EINVAL);
        const p = c.pkt;
        const diff = argS32(lenDiff);
        const abs = Math.abs(diff);
        const shrink = diff < 0;
        if ((flags & ~ALLOWED) !== 0n) return neg(Errno.EINVAL);
        if (abs > 0xfff) return neg(Errno.EFAULT);
        if (p.protocol !== PROTO_IP && p.protocol !== PROTO_IPV6) return neg(Errno.ENOTSUPP);
        let off = p.network - p.mac;
        const m = argU32(mode);
        if (m === BPF_ADJ_ROOM_NET) off += netBaseLen(p);
        else if (m !== BPF_ADJ_ROOM_MAC) return neg(Errno.ENOTSUPP);
        let lenMin = netBaseLen(p);
        if (flags & DECAP_L3) {
          if (!shrink) return neg(Errno.EINVAL);
          if ((flags & DECAP_L3) === F.DECAP_L3_IPV4) lenMin = 20;
          else if ((flags & DECAP_L3) === F.DECAP_L3_IPV6) lenMin = 40;
          else return neg(Errno.EINVAL);
        }
        const len = p.dataEnd - p.data;
        const lenCur = len - (p.network - p.data);
        if (shrink ? abs >= lenCur || lenCur - abs < lenMin : len + abs > BPF_SKB_MAX_LEN) return neg(Errno.ENOTSUPP);
        const u8 = mem().u8;
        if (shrink) {
          // bpf_skb_net_shrink: only the decap flags, then the bytes after `off` go
          if ((flags & ~(F.FIXED_GSO | DECAP_L3 | F.NO_CSUM_RESET)) !== 0n) return neg(Errno.EINVAL);
          u8.copyWithin(p.data + abs, p.data, p.data + off);
          p.data += abs;
          p.mac += abs;
          p.network += abs;
          if (p.protocol === PROTO_IP && flags & F.DECAP_L3_IPV6) p.protocol = PROTO_IPV6;
          else if (p.protocol === PROTO_IPV6 && flags & F.DECAP_L3_IPV4) p.protocol = PROTO_IP;
        } else {
          // bpf_skb_net_grow: zeros inserted at `off`; an encapsulating grow checks its flags,
          // marks the skb (a second one is EALREADY) and takes the outer protocol
          const encap = (flags & ENCAP_L3) !== 0n;
          if (encap) {
            const innerMac = Number((flags >> 56n) & 0xffn);
            if ((flags & ENCAP_L3) === ENCAP_L3 || (flags & F.ENCAP_L4_GRE && flags & F.ENCAP_L4_UDP)) return neg(Errno.EINVAL);
            if (flags & F.ENCAP_L2_ETH && innerMac !== 14) return neg(Errno.EINVAL);
            if (p.encapsulation) return neg(Errno.EALREADY);
            if (innerMac > abs) return neg(Errno.EINVAL);
          }
          if (!headroom(p, abs)) return neg(Errno.ENOMEM);
          u8.copyWithin(p.data - abs, p.data, p.data + off);
          p.data -= abs;
          u8.fill(0, p.data + off, p.data + off + abs);
          p.mac -= abs;
          p.network -= abs;
          if (encap) {
            p.encapsulation = true;
            if (p.protocol === PROTO_IP && flags & F.ENCAP_L3_IPV6) p.protocol = PROTO_IPV6;
            else if (p.protocol === PROTO_IPV6 && flags & F.ENCAP_L3_IPV4) p.protocol = PROTO_IP;
          }
        }
        sync();
        return 0n;
      },
    },
  ];
}
