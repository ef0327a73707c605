import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno as neg, argU32 as u32, argS32 as s32 } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';
import { writeSkbCtx } from '../skb.js';
import { adjustHead, adjustMeta, adjustTail, writeXdpMd } from '../xdp.js';
import { addPartial, csumDiff, replaceChecksum, swap16 } from './checksum.js';

/** BPF_F_* flags of the checksum helpers. */
const BPF_F_HDR_FIELD_MASK = 0xf;
const BPF_F_PSEUDO_HDR = 0x10;
const BPF_F_MARK_MANGLED_0 = 0x20;

/**
 * netHelpers: the packet helpers, acting on the runtime's current packet:
 * bpf_xdp_adjust_head (44), _tail (65), _meta (54),
 * bpf_csum_diff (28), bpf_l3_csum_replace (10), bpf_l4_csum_replace (11), bpf_skb_load_bytes
 * (26), _relative (68), bpf_skb_store_bytes (9), bpf_skb_vlan_push (18), _pop (19),
 * bpf_set_hash (48), bpf_get_hash_recalc (34), bpf_spin_lock (93), bpf_spin_unlock (94),
 * bpf_skb_pull_data (39), bpf_xdp_get_buff_len (188), bpf_xdp_load_bytes (189), _store_bytes (190).
 */
export function netHelpers(rt: HookRuntime): Helper[] {
  const mem = () => rt.kernel.memory;
  const xdp = () => (rt.current.kind === 'xdp' ? rt.current : undefined);
  const skb = () => (rt.current.kind === 'skb' ? rt.current : undefined);
  const syncXdp = () => {
    const c = xdp();
    if (c) writeXdpMd(mem().view, c.ctx, c.frame);
  };
  const syncSkb = () => {
    const c = skb();
    if (c) writeSkbCtx(mem().view, c.ctx, c.pkt);
  };
  /** at returns the address of [off, off+len) of the skb's packet, or -1 out of bounds. */
  const at = (off: number, len: number, base?: number) => {
    const c = skb();
    if (!c || off < 0 || len < 0) return -1;
    const start = (base ?? c.pkt.data) + off;
    return start + len <= c.pkt.dataEnd ? start : -1;
  };
  /**
   * xdpBytes: bpf_xdp_load_bytes / _store_bytes over the linear part and the fragments
   * (bpf_xdp_pointer: offset or len over 0xffff EFAULT, past the buffer EINVAL).
   */
  const xdpBytes = (offset: number, buf: number, len: number, dir: 'load' | 'store'): bigint => {
    const c = xdp();
    if (!c) return neg(Errno.EINVAL);
    if (offset > 0xffff || len > 0xffff) return neg(Errno.EFAULT);
    const f = c.frame;
    const linear = f.dataEnd - f.data;
    const frags = f.frags ?? new Uint8Array(0);
    if (offset + len > linear + frags.length) return neg(Errno.EINVAL);
    const u8 = mem().u8;
    for (let i = 0; i < len; i++) {
      const o = offset + i;
      if (dir === 'load') u8[buf + i] = o < linear ? u8[f.data + o] : frags[o - linear];
      else if (o < linear) u8[f.data + o] = u8[buf + i];
      else frags[o - linear] = u8[buf + i];
    }
    return 0n;
  };
  const be16 = (a: number) => (mem().u8[a] << 8) | mem().u8[a + 1];
  const setBe16 = (a: number, v: number) => ((mem().u8[a] = v >> 8), (mem().u8[a + 1] = v & 0xff));

  return [
    {
      id: 44,
      name: 'bpf_xdp_adjust_head',
      fn: (_ctx, delta) => {
        const c = xdp();
        if (!c) return neg(Errno.EINVAL);
        const r = adjustHead(c.frame, s32(delta), (from, to, len) => mem().u8.copyWithin(to, from, from + len));
        syncXdp();
        return neg(-r);
      },
    },
    {
      id: 65,
      name: 'bpf_xdp_adjust_tail',
      fn: (_ctx, delta) => {
        const c = xdp();
        if (!c) return neg(Errno.EINVAL);
        const r = adjustTail(c.frame, s32(delta), (from, len) => mem().u8.fill(0, from, from + len));
        syncXdp();
        return neg(-r);
      },
    },
    {
      id: 54,
      name: 'bpf_xdp_adjust_meta',
      fn: (_ctx, delta) => {
        const c = xdp();
        if (!c) return neg(Errno.EINVAL);
        const r = adjustMeta(c.frame, s32(delta));
        syncXdp();
        return neg(-r);
      },
    },
    {
      id: 28,
      name: 'bpf_csum_diff',
      fn: (from, fromSize, to, toSize, seed) => {
        const fs = u32(fromSize);
        const ts = u32(toSize);
        if (fs % 4 || ts % 4 || fs > 512 || ts > 512) return neg(Errno.EINVAL);
        const u8 = mem().u8;
        const f = u8.slice(u32(from), u32(from) + fs);
        const t = u8.slice(u32(to), u32(to) + ts);
        return BigInt(csumDiff(f, t, u32(seed)));
      },
    },
    {
      id: 10,
      name: 'bpf_l3_csum_replace',
      fn: (_skb, offset, from, to, flags) => {
        const size = u32(flags) & BPF_F_HDR_FIELD_MASK;
        if (u32(flags) & ~BPF_F_HDR_FIELD_MASK) return neg(Errno.EINVAL);
        const a = at(u32(offset), 2);
        if (a < 0) return neg(Errno.EFAULT);
        const check = be16(a);
        if (size === 0) setBe16(a, swap16(addPartial(swap16(check), u32(to))));
        else if (size === 2 || size === 4) setBe16(a, replaceChecksum(check, swap(u32(from), size), swap(u32(to), size), size));
        else return neg(Errno.EINVAL);
        return 0n;
      },
    },
    {
      id: 11,
      name: 'bpf_l4_csum_replace',
      fn: (_skb, offset, from, to, flags) => {
        const f = u32(flags);
        const size = f & BPF_F_HDR_FIELD_MASK;
        if (f & ~(BPF_F_HDR_FIELD_MASK | BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | 0x40)) return neg(Errno.EINVAL);
        const a = at(u32(offset), 2);
        if (a < 0) return neg(Errno.EFAULT);
        const check = be16(a);
        if (f & BPF_F_MARK_MANGLED_0 && check === 0) return 0n; // a UDP checksum of 0 means "none": keep it
        let next: number;
        if (size === 0) next = swap16(addPartial(swap16(check), u32(to)));
        else if (size === 2 || size === 4) next = replaceChecksum(check, swap(u32(from), size), swap(u32(to), size), size);
        else return neg(Errno.EINVAL);
        if (f & BPF_F_MARK_MANGLED_0 && next === 0) next = 0xffff; // CSUM_MANGLED_0
        setBe16(a, next);
        return 0n;
      },
    },
    { id: 26, name: 'bpf_skb_load_bytes', fn: (_skb, offset, to, len) => loadBytes(u32(offset), u32(to), u32(len)) },
    {
      id: 68,
      name: 'bpf_skb_load_bytes_relative',
      fn: (_skb, offset, to, len, start) => {
        const c = skb();
        if (!c) return neg(Errno.EINVAL);
        const s = u32(start);
        if (s > 1) return neg(Errno.EINVAL);
        return loadBytes(u32(offset), u32(to), u32(len), s === 0 ? c.pkt.mac : c.pkt.network);
      },
    },
    {
      id: 9,
      name: 'bpf_skb_store_bytes',
      fn: (_skb, offset, from, len, flags) => {
        if (u32(flags) & ~3) return neg(Errno.EINVAL);
        const a = at(u32(offset), u32(len));
        if (a < 0) return neg(Errno.EFAULT);
        mem().u8.copyWithin(a, u32(from), u32(from) + u32(len));
        return 0n;
      },
    },
    {
      id: 39,
      name: 'bpf_skb_pull_data',
      fn: (_skb, len) => {
        // skb_ensure_writable: the whole packet is linear here, so only a length past it fails
        const c = skb();
        if (!c) return neg(Errno.EINVAL);
        return u32(len) > c.pkt.dataEnd - c.pkt.data ? neg(Errno.ENOMEM) : 0n;
      },
    },
    {
      id: 188,
      name: 'bpf_xdp_get_buff_len',
      fn: () => {
        const c = xdp();
        return c ? BigInt(c.frame.dataEnd - c.frame.data + (c.frame.frags?.length ?? 0)) : 0n;
      },
    },
    { id: 189, name: 'bpf_xdp_load_bytes', fn: (_xdp, offset, buf, len) => xdpBytes(u32(offset), u32(buf), u32(len), 'load') },
    { id: 190, name: 'bpf_xdp_store_bytes', fn: (_xdp, offset, buf, len) => xdpBytes(u32(offset), u32(buf), u32(len), 'store') },
    {
      id: 18,
      name: 'bpf_skb_vlan_push',
      fn: (_skb, proto, tci) => {
        const c = skb();
        if (!c) return neg(Errno.EINVAL);
        const p = u32(proto) & 0xffff;
        if (p !== 0x0081 && p !== 0xa888) return neg(Errno.EINVAL); // htons(ETH_P_8021Q), htons(ETH_P_8021AD)
        if (c.pkt.vlanPresent) {
          // the tag already offloaded moves into the packet, after the MAC addresses
          const r = insertTag(c, c.pkt.vlanProto, c.pkt.vlanTci);
          if (r) return neg(r);
        }
        c.pkt.vlanPresent = true;
        c.pkt.vlanProto = p;
        c.pkt.vlanTci = u32(tci) & 0xffff;
        syncSkb();
        return 0n;
      },
    },
    {
      id: 19,
      name: 'bpf_skb_vlan_pop',
      fn: () => {
        const c = skb();
        if (!c) return neg(Errno.EINVAL);
        c.pkt.vlanPresent = false;
        c.pkt.vlanTci = 0;
        c.pkt.vlanProto = 0;
        syncSkb();
        return 0n;
      },
    },
    {
      id: 31,
      name: 'bpf_skb_change_proto',
      fn: (_skb, proto, flags) => {
        // IPv4 <-> IPv6 (net/core/filter.c bpf_skb_proto_4_to_6 / 6_to_4): 20 bytes (the header
        // size difference) are inserted, zeroed, or removed right after the link-layer header;
        // skb->protocol changes, the EtherType in the packet is left to the program
        const c = skb();
        if (!c || flags !== 0n) return neg(Errno.EINVAL);
        const to = u32(proto) & 0xffff;
        const V4 = 0x0008;
        const V6 = 0xdd86;
        const p = c.pkt;
        const grow = p.protocol === V4 && to === V6 ? 20 : p.protocol === V6 && to === V4 ? -20 : 0;
        if (grow === 0) return neg(Errno.ENOTSUPP);
        const u8 = mem().u8;
        const at = p.network;
        if (grow > 0) {
          if (p.dataEnd + grow > p.end) return neg(Errno.ENOMEM);
          u8.copyWithin(at + grow, at, p.dataEnd);
          u8.fill(0, at, at + grow);
        } else {
          if (p.dataEnd - at < -grow) return neg(Errno.EINVAL);
          u8.copyWithin(at, at - grow, p.dataEnd);
        }
        p.dataEnd += grow;
        p.protocol = to;
        syncSkb();
        return 0n;
      },
    },
    {
      id: 48,
      name: 'bpf_set_hash',
      fn: (_skb, hash) => {
        const c = skb();
        if (c) ((c.pkt.hash = u32(hash)), syncSkb());
        return 0n;
      },
    },
    {
      id: 34,
      name: 'bpf_get_hash_recalc',
      fn: () => {
        const c = skb();
        if (!c) return 0n;
        if (c.pkt.hash === 0) c.pkt.hash = flowHash(mem().u8.subarray(c.pkt.network, c.pkt.dataEnd)) || 1;
        syncSkb();
        return BigInt(c.pkt.hash);
      },
    },
    {
      id: 93,
      name: 'bpf_spin_lock',
      fn: (lock) => {
        const a = mem().i32;
        const i = u32(lock) >> 2;
        while (Atomics.compareExchange(a, i, 0, 1) !== 0) Atomics.wait(a, i, 1, 1);
        return 0n;
      },
    },
    {
      id: 94,
      name: 'bpf_spin_unlock',
      fn: (lock) => {
        Atomics.store(mem().i32, u32(lock) >> 2, 0);
        Atomics.notify(mem().i32, u32(lock) >> 2, 1);
        return 0n;
      },
    },
  ];

  function loadBytes(offset: number, to: number, len: number, base?: number): bigint {
    const a = at(offset, len, base);
    if (a < 0) {
      mem().u8.fill(0, to, to + len);
      return neg(Errno.EFAULT);
    }
    mem().u8.copyWithin(to, a, a + len);
    return 0n;
  }

  function insertTag(
    c: { pkt: { data: number; dataEnd: number; mac: number; network: number; end: number } },
    proto: number,
    tci: number,
  ): number {
    const p = c.pkt;
    if (p.dataEnd + 4 > p.end) return Errno.ENOMEM;
    const u8 = mem().u8;
    u8.copyWithin(p.mac + 16, p.mac + 12, p.dataEnd);
    u8[p.mac + 12] = proto & 0xff;
    u8[p.mac + 13] = proto >> 8;
    u8[p.mac + 14] = tci >> 8;
    u8[p.mac + 15] = tci & 0xff;
    p.dataEnd += 4;
    p.network += 4;
    if (p.data > p.mac) p.data += 4;
    return 0;
  }
}

/** swap turns a helper's `from`/`to` (network-order bytes read as a little-endian number) into big-endian. */
function swap(v: number, size: 2 | 4): number {
  return size === 2
    ? ((v & 0xff) << 8) | ((v >> 8) & 0xff)
    : (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** flowHash: a stable hash of the packet from its network header on (the kernel's is keyed randomly). */
function flowHash(b: Uint8Array): number {
  let h = 2166136261;
  for (let i = 0; i < Math.min(b.length, 40); i++) h = Math.imul(h ^ b[i], 16777619);
  return h >>> 0;
}
