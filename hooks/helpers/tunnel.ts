import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno as neg, argU32 as u32 } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';

/**
 * TunnelInfo: the struct ip_tunnel_info bpf_skb_set_tunnel_key attaches to an skb (a
 * metadata dst the encapsulating device reads on transmit), kept with the packet so a later
 * program and the output see it. `src` and `dst` are the outer addresses (4 or 16 bytes,
 * network order); `flags` the IP_TUNNEL_*_BIT flags as their low 16 bits; `options` what
 * bpf_skb_set_tunnel_opt set.
 */
export interface TunnelInfo {
  readonly ipv6: boolean;
  readonly id: number;
  readonly tos: number;
  readonly ttl: number;
  readonly label: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  flags: number;
  options?: Uint8Array;
}

/** BPF_F_* flags of the tunnel helpers (include/uapi/linux/bpf.h). */
const BPF_F_TUNINFO_IPV6 = 1n;
const BPF_F_ZERO_CSUM_TX = 2n;
const BPF_F_DONT_FRAGMENT = 4n;
const BPF_F_SEQ_NUMBER = 8n;
const BPF_F_NO_TUNNEL_KEY = 16n;
const BPF_F_TUNINFO_FLAGS = 16n;
/** IP_TUNNEL_*_BIT (include/net/ip_tunnels.h) as flag values, and the option kinds ip_tunnel_set_options_present marks. */
const TUNNEL_CSUM = 0x01;
const TUNNEL_KEY = 0x04;
const TUNNEL_SEQ = 0x08;
const TUNNEL_DONT_FRAGMENT = 0x0100;
const TUNNEL_NOCACHE = 0x2000;
const TUNNEL_OPTIONS_PRESENT = 0x0800 | 0x1000 | 0x4000 | 0x8000;
/** sizeof(struct bpf_tunnel_key) and the older layouts' sizes (offsets of local_ipv6, tunnel_label, tunnel_ext, remote_ipv6[1]). */
const KEY_SIZE = 44;
const COMPAT_SIZES = [28, 24, 22];
const IPV4_ONLY_SIZE = 8;
/** IP_TUNNEL_OPTS_MAX: options_len is a u8. */
const IP_TUNNEL_OPTS_MAX = 255;
const IPV6_FLOWLABEL_MASK = 0x000fffff;

/**
 * tunnelHelpers: tc's tunnel metadata helpers. bpf_skb_set_tunnel_key (21) and _opt (30)
 * attach a TunnelInfo to the packet; bpf_skb_get_tunnel_key (20) and _opt (29) read the one the
 * packet carries (-EINVAL / -ENOENT and a zeroed buffer without one). As in the kernel,
 * reading back what a program set swaps the addresses: the key is read as received
 * (remote = the outer source), set as to be sent (remote = the outer destination).
 */
export function tunnelHelpers(rt: HookRuntime): Helper[] {
  const mem = () => rt.kernel.memory;
  const skb = () => (rt.current.kind === 'skb' ? rt.current : undefined);
  return [
    {
      id: 21,
      name: 'bpf_skb_set_tunnel_key',
      fn: (_skb, from, size, flags) => {
        const c = skb();
        const n = u32(size);
        if (!c || flags & ~(BPF_F_TUNINFO_IPV6 | BPF_F_ZERO_CSUM_TX | BPF_F_DONT_FRAGMENT | BPF_F_SEQ_NUMBER | BPF_F_NO_TUNNEL_KEY))
          return neg(Errno.EINVAL);
        if (n !== KEY_SIZE && !COMPAT_SIZES.includes(n) && n !== IPV4_ONLY_SIZE) return neg(Errno.EINVAL);
        // an older layout: the missing tail reads as zeroes
        const k = new Uint8Array(KEY_SIZE);
        k.set(mem().u8.subarray(u32(from), u32(from) + n));
        const dv = new DataView(k.buffer);
        const ipv6 = (flags & BPF_F_TUNINFO_IPV6) !== 0n;
        const label = dv.getUint32(24, true);
        if ((!ipv6 && label) || dv.getUint16(22, true)) return neg(Errno.EINVAL);
        const be32 = (off: number) => Uint8Array.of(k[off + 3], k[off + 2], k[off + 1], k[off]);
        c.pkt.tunnel = {
          ipv6,
          id: dv.getUint32(0, true),
          tos: k[20],
          ttl: k[21],
          label: ipv6 ? label & IPV6_FLOWLABEL_MASK : 0,
          dst: ipv6 ? k.slice(4, 20) : be32(4),
          src: ipv6 ? k.slice(28, 44) : be32(28),
          flags:
            TUNNEL_NOCACHE |
            (flags & BPF_F_DONT_FRAGMENT ? TUNNEL_DONT_FRAGMENT : 0) |
            (flags & BPF_F_ZERO_CSUM_TX ? 0 : TUNNEL_CSUM) |
            (flags & BPF_F_SEQ_NUMBER ? TUNNEL_SEQ : 0) |
            (flags & BPF_F_NO_TUNNEL_KEY ? 0 : TUNNEL_KEY),
        };
        return 0n;
      },
    },
    {
      id: 20,
      name: 'bpf_skb_get_tunnel_key',
      fn: (_skb, to, size, flags) => {
        const c = skb();
        const [t, n] = [u32(to), u32(size)];
        const u8 = mem().u8;
        const fail = (errno: number) => (u8.fill(0, t, t + n), neg(errno));
        const info = c?.pkt.tunnel;
        if (!info || flags & ~(BPF_F_TUNINFO_IPV6 | BPF_F_TUNINFO_FLAGS)) return fail(Errno.EINVAL);
        const ipv6 = (flags & BPF_F_TUNINFO_IPV6) !== 0n;
        if (info.ipv6 !== ipv6) return fail(Errno.EPROTO);
        if (n !== KEY_SIZE && !COMPAT_SIZES.includes(n) && (n !== IPV4_ONLY_SIZE || info.ipv6)) return fail(Errno.EINVAL);
        const k = new Uint8Array(KEY_SIZE);
        const dv = new DataView(k.buffer);
        dv.setUint32(0, info.id, true);
        k[20] = info.tos;
        k[21] = info.ttl;
        if (flags & BPF_F_TUNINFO_FLAGS) dv.setUint16(22, info.flags & 0xffff, false);
        const le32 = (a: Uint8Array) => Uint8Array.of(a[3], a[2], a[1], a[0]);
        k.set(ipv6 ? info.src : le32(info.src), 4);
        k.set(ipv6 ? info.dst : le32(info.dst), 28);
        if (ipv6) dv.setUint32(24, info.label, true);
        u8.set(k.subarray(0, n), t);
        return 0n;
      },
    },
    {
      id: 30,
      name: 'bpf_skb_set_tunnel_opt',
      fn: (_skb, from, size) => {
        const c = skb();
        const n = u32(size);
        // only on the metadata bpf_skb_set_tunnel_key attached; whole 32-bit words
        if (!c?.pkt.tunnel || n & 3) return neg(Errno.EINVAL);
        if (n > IP_TUNNEL_OPTS_MAX) return neg(Errno.ENOMEM);
        const info = c.pkt.tunnel;
        info.options = mem().u8.slice(u32(from), u32(from) + n);
        if (n) info.flags |= TUNNEL_OPTIONS_PRESENT;
        return 0n;
      },
    },
    {
      id: 29,
      name: 'bpf_skb_get_tunnel_opt',
      fn: (_skb, to, size) => {
        const c = skb();
        const [t, n] = [u32(to), u32(size)];
        const u8 = mem().u8;
        const info = c?.pkt.tunnel;
        if (!info || !(info.flags & TUNNEL_OPTIONS_PRESENT)) return (u8.fill(0, t, t + n), neg(Errno.ENOENT));
        const opts = info.options ?? new Uint8Array(0);
        if (n < opts.length) return (u8.fill(0, t, t + n), neg(Errno.ENOMEM));
        u8.set(opts, t);
        u8.fill(0, t + opts.length, t + n);
        return BigInt(opts.length);
      },
    },
  ];
}
