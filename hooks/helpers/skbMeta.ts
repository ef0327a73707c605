import { Errno } from '../../uapi/errno.js';
import { SkBuff } from '../../uapi/skBuff.js';
import { XdpMd } from '../../uapi/xdp.js';
import { type Helper, negErrno as neg, argU32 as u32, argS32 as s32 } from '../../vm/helpers.js';
import { ETH_HLEN } from '../../uapi/ethernet.js';
import { Perm } from '../../vm/memory.js';
import { defaultTask } from '../currentTask.js';
import type { HookRuntime } from '../runtime.js';

/** bpf_check_mtu's flags and answers (include/uapi/linux/bpf.h). */
const BPF_MTU_CHK_SEGS = 1n;
const BPF_MTU_CHK_RET_SUCCESS = 0n;
const BPF_MTU_CHK_RET_FRAG_NEEDED = 1n;
const LOOPBACK_IFINDEX = 1;
const LOOPBACK_MTU = 65536;
const DEFAULT_MTU = 1500;
/** bpf_csum_level's levels (enum BPF_CSUM_LEVEL_*) and SKB_MAX_CSUM_LEVEL. */
const BPF_CSUM_LEVEL_QUERY = 0;
const BPF_CSUM_LEVEL_INC = 1;
const BPF_CSUM_LEVEL_DEC = 2;
const BPF_CSUM_LEVEL_RESET = 3;
const SKB_MAX_CSUM_LEVEL = 3;
/** PACKET_OTHERHOST: the last type skb_pkt_type_ok allows. */
const PACKET_OTHERHOST = 3;
/** enum skb_tstamp_type: BPF_SKB_CLOCK_REALTIME, _MONOTONIC, _TAI. */
const BPF_SKB_CLOCK_REALTIME = 0;
const BPF_SKB_CLOCK_TAI = 2;
/** skb->protocol values as the context shows them (the __be16's bytes read little-endian). */
const ETH_P_IP_CTX = 0x0008;
const ETH_P_IPV6_CTX = 0xdd86;
/**
 * The task bpf_get_current_task names: the kernel returns `current` (in softirq, whichever
 * task was interrupted; under test-run the caller's), a kernel address bpfbox has no memory
 * behind. Nonzero, as the kernel's always is; reads through it fault.
 */
export const CURRENT_TASK = 0xffff_8880_0100_0000n;
/** x86-64's TASK_SIZE_MAX + PAGE_SIZE: copy_from_kernel_nofault refuses (-ERANGE) addresses below it. */
const KERNEL_SPACE = 1n << 47n;
/** Below it (and from KERNEL_SPACE up) x86-64 addresses are not canonical: -ERANGE too. */
const CANONICAL_HIGH = 0xffff_8000_0000_0000n;

/**
 * skbMetaHelpers: helpers that read or set what the kernel keeps beside the packet bytes.
 * bpf_check_mtu (163, XDP and tc; against the runtime's device table), bpf_csum_level (135),
 * bpf_skb_change_type (32), bpf_skb_ecn_set_ce (97), bpf_skb_set_tstamp (192),
 * bpf_get_current_task (35), bpf_probe_read_kernel (113) and _str (115), bpf_csum_update (40),
 * bpf_set_hash_invalid (41), bpf_get_route_realm (24), bpf_skb_cgroup_classid (151),
 * bpf_skb_cgroup_id (79), bpf_skb_ancestor_cgroup_id (83).
 */
export function skbMetaHelpers(rt: HookRuntime): Helper[] {
  const mem = () => rt.kernel.memory;
  const skb = () => (rt.current.kind === 'skb' ? rt.current : undefined);
  const { cgroupIds } = rt.options.task ?? defaultTask();
  /** __dev_via_ifindex: 0 is the context's device, else the device table's (unknown: ENODEV). Returns its MTU. */
  const deviceMtu = (ifindex: number): number | undefined => {
    const c = rt.current;
    if (ifindex === 0 && c.kind === 'xdp') ifindex = mem().view.getUint32(c.ctx + XdpMd.ingress_ifindex, true);
    else if (ifindex === 0 && c.kind === 'skb') ifindex = mem().view.getUint32(c.ctx + SkBuff.ifindex, true);
    const devices = rt.options.devices;
    const dev = devices?.find((d) => d.ifindex === ifindex);
    if (dev) return dev.mtu ?? (ifindex === LOOPBACK_IFINDEX ? LOOPBACK_MTU : DEFAULT_MTU);
    if (ifindex === LOOPBACK_IFINDEX) return LOOPBACK_MTU;
    return (rt.options.ifindexes ?? []).includes(ifindex) ? DEFAULT_MTU : undefined;
  };
  /** kernelReadable: copy_from_kernel_nofault: bpfbox's own memory reads; user addresses -ERANGE; any other kernel address faults. */
  const kernelReadable = (addr: bigint, size: number): number | bigint => {
    const a = Number(addr);
    if (addr < 0xffff_ffffn && mem().find(a, Math.max(size, 1), Perm.READ)) return a;
    return addr < KERNEL_SPACE || addr < CANONICAL_HIGH ? neg(Errno.ERANGE) : neg(Errno.EFAULT);
  };
  return [
    {
      id: 163,
      name: 'bpf_check_mtu',
      fn: (_ctx, ifindex, mtuLen, lenDiff, flags) => {
        const c = rt.current;
        if (c.kind === 'none') return neg(Errno.EINVAL);
        const dv = mem().view;
        const p = u32(mtuLen);
        const given = dv.getUint32(p, true);
        if (c.kind === 'xdp' ? flags !== 0n : (flags & ~BPF_MTU_CHK_SEGS) !== 0n) return neg(Errno.EINVAL);
        if (flags & BPF_MTU_CHK_SEGS && (s32(lenDiff) || given)) return neg(Errno.EINVAL);
        const mtu = deviceMtu(u32(ifindex));
        if (mtu === undefined) return neg(Errno.ENODEV);
        // *mtu_len, when set, is the L3 length (iph->tot_len, as for fib_lookup); else the whole packet
        const whole = c.kind === 'xdp' ? c.frame.dataEnd - c.frame.data : c.pkt.dataEnd - c.pkt.mac;
        const len = (given ? given + ETH_HLEN : whole) + s32(lenDiff);
        dv.setUint32(p, mtu, true);
        // no skb here is GSO: a packet over the MTU needs fragmenting
        return len <= mtu + ETH_HLEN ? BPF_MTU_CHK_RET_SUCCESS : BPF_MTU_CHK_RET_FRAG_NEEDED;
      },
    },
    {
      id: 135,
      name: 'bpf_csum_level',
      fn: (_skb, level) => {
        const c = skb();
        if (!c) return neg(Errno.EINVAL);
        const p = c.pkt;
        switch (level) {
          case BigInt(BPF_CSUM_LEVEL_QUERY):
            return p.csumUnnecessary ? BigInt(p.csumLevel ?? 0) : neg(Errno.EACCES);
          case BigInt(BPF_CSUM_LEVEL_INC):
            // __skb_incr_checksum_unnecessary: NONE becomes UNNECESSARY at level 0
            if (!p.csumUnnecessary) ((p.csumUnnecessary = true), (p.csumLevel = 0));
            else if ((p.csumLevel ?? 0) < SKB_MAX_CSUM_LEVEL) p.csumLevel = (p.csumLevel ?? 0) + 1;
            return 0n;
          case BigInt(BPF_CSUM_LEVEL_DEC):
            if (p.csumUnnecessary && !p.csumLevel) p.csumUnnecessary = false;
            else if (p.csumUnnecessary) p.csumLevel = (p.csumLevel ?? 0) - 1;
            return 0n;
          case BigInt(BPF_CSUM_LEVEL_RESET):
            if (p.csumUnnecessary) ((p.csumUnnecessary = false), (p.csumLevel = 0));
            return 0n;
          default:
            return neg(Errno.EINVAL);
        }
      },
    },
    {
      id: 32,
      name: 'bpf_skb_change_type',
      fn: (_skb, type) => {
        const c = skb();
        if (!c) return neg(Errno.EINVAL);
        const dv = mem().view;
        // skb_pkt_type_ok: the packet's type now and the new one at most PACKET_OTHERHOST
        if (dv.getUint32(c.ctx + SkBuff.pkt_type, true) > PACKET_OTHERHOST || u32(type) > PACKET_OTHERHOST) return neg(Errno.EINVAL);
        dv.setUint32(c.ctx + SkBuff.pkt_type, u32(type), true);
        return 0n;
      },
    },
    {
      id: 97,
      name: 'bpf_skb_ecn_set_ce',
      fn: () => {
        const c = skb();
        if (!c) return 0n;
        const p = c.pkt;
        const u8 = mem().u8;
        const n = p.network;
        const proto = skbProtocol(u8, p.mac, p.dataEnd, p.protocol);
        if (proto === ETH_P_IP_CTX && n + 20 <= p.dataEnd) {
          // IP_ECN_set_ce on the network header (under test-run that of a tagged frame is its first tag, as in the kernel): not-ECT stays (0), CE stays (1), ECT(0)/ECT(1) become CE with the checksum fixed
          const ecn = (u8[n + 1] + 1) & 3;
          if (!(ecn & 2)) return ecn ? 0n : 1n;
          let sum = ((u8[n + 10] << 8) | u8[n + 11]) + 0xfffb + ecn;
          sum = (sum & 0xffff) + (sum >>> 16);
          ((u8[n + 10] = sum >>> 8), (u8[n + 11] = sum & 0xff));
          u8[n + 1] |= 3;
          return 1n;
        }
        if (proto === ETH_P_IPV6_CTX && n + 40 <= p.dataEnd) {
          // IP6_ECN_set_ce: the traffic class's low bits (byte 1, bits 4-5 of the first word)
          if (!((u8[n + 1] >> 4) & 3)) return 0n;
          u8[n + 1] |= 0x30;
          return 1n;
        }
        return 0n;
      },
    },
    {
      id: 192,
      name: 'bpf_skb_set_tstamp',
      fn: (_skb, tstamp, type) => {
        const c = skb();
        if (!c) return neg(Errno.EINVAL);
        const t = u32(type);
        // skb_clear_delivery_time() is done for inet protocols only
        if (c.pkt.protocol !== ETH_P_IP_CTX && c.pkt.protocol !== ETH_P_IPV6_CTX) return neg(Errno.EOPNOTSUPP);
        // REALTIME may clear the stamp; MONOTONIC and TAI need one
        if (t > BPF_SKB_CLOCK_TAI || (t !== BPF_SKB_CLOCK_REALTIME && tstamp === 0n)) return neg(Errno.EINVAL);
        mem().view.setBigUint64(c.ctx + SkBuff.tstamp, tstamp, true);
        mem().u8[c.ctx + SkBuff.tstamp_type] = t;
        return 0n;
      },
    },
    { id: 35, name: 'bpf_get_current_task', fn: () => CURRENT_TASK },
    {
      id: 40,
      name: 'bpf_csum_update',
      // only a CHECKSUM_COMPLETE skb carries a checksum to update; none here does
      fn: () => neg(Errno.ENOTSUPP),
    },
    {
      id: 41,
      name: 'bpf_set_hash_invalid',
      fn: () => {
        // skb_clear_hash: the hash is recomputed when next asked for
        const c = skb();
        if (c) ((c.pkt.hash = 0), mem().view.setUint32(c.ctx + SkBuff.hash, 0, true));
        return 0n;
      },
    },
    // dst_tclassid: no route (realm) is attached to a packet here; no net_cls class (cgroup v2)
    { id: 24, name: 'bpf_get_route_realm', fn: () => 0n },
    { id: 151, name: 'bpf_skb_cgroup_classid', fn: () => 0n },
    // the cgroup of the skb's socket: test-run's is made by the calling task (sk_alloc ->
    // cgroup_sk_alloc), so it is in the task's cgroup (RuntimeOptions.task; default the root,
    // id 1, level 0); the ancestor at a level past the socket's, or no socket, 0
    { id: 79, name: 'bpf_skb_cgroup_id', fn: () => (skb()?.pkt.sock ? cgroupIds[cgroupIds.length - 1] : 0n) },
    {
      id: 83,
      name: 'bpf_skb_ancestor_cgroup_id',
      // ancestor_level is an int: the low 32 bits, signed (cgroup_ancestor: below 0 none)
      fn: (_skb, level) => {
        const l = Number(BigInt.asIntN(32, level));
        return skb()?.pkt.sock && l >= 0 && l < cgroupIds.length ? cgroupIds[l] : 0n;
      },
    },
    {
      id: 113,
      name: 'bpf_probe_read_kernel',
      fn: (dst, size, src) => {
        const u8 = mem().u8;
        const [d, n] = [u32(dst), u32(size)];
        const from = kernelReadable(src, n);
        if (typeof from === 'bigint') return (u8.fill(0, d, d + n), from);
        u8.copyWithin(d, from, from + n);
        return 0n;
      },
    },
    {
      id: 115,
      name: 'bpf_probe_read_kernel_str',
      fn: (dst, size, src) => {
        const u8 = mem().u8;
        const [d, n] = [u32(dst), u32(size)];
        if (n === 0) return 0n;
        const from = kernelReadable(src, 1);
        if (typeof from === 'bigint') return (u8.fill(0, d, d + n), from);
        // strncpy_from_kernel_nofault: at most size-1 bytes and a NUL; the length with the NUL
        let i = 0;
        for (; i < n - 1; i++) {
          if (!mem().find(from + i, 1, Perm.READ)) return (u8.fill(0, d, d + n), neg(Errno.EFAULT));
          const b = u8[from + i];
          u8[d + i] = b;
          if (b === 0) return BigInt(i + 1);
        }
        u8[d + i] = 0;
        return BigInt(n);
      },
    },
  ];
}

/** 802.1Q and 802.1ad as the context shows them; VLAN_MAX_DEPTH. */
const ETH_P_8021Q_CTX = 0x0081;
const ETH_P_8021AD_CTX = 0xa888;
const VLAN_MAX_DEPTH = 8;

/**
 * skbProtocol: skb_protocol(skb, true) (vlan_get_protocol): skb->protocol, or for a tagged
 * frame the type under its tags, read from the packet after the Ethernet header (0 when the
 * tags run past the packet or nest deeper than VLAN_MAX_DEPTH).
 */
function skbProtocol(u8: Uint8Array, mac: number, end: number, protocol: number): number {
  let type = protocol;
  let at = mac + 14;
  let depth = VLAN_MAX_DEPTH;
  while (type === ETH_P_8021Q_CTX || type === ETH_P_8021AD_CTX) {
    if (at + 4 > end || !--depth) return 0;
    type = u8[at + 2] | (u8[at + 3] << 8);
    at += 4;
  }
  return type;
}
