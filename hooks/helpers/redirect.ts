import { Errno } from '../../uapi/errno.js';
import { MapType } from '../../uapi/mapType.js';
import { SlotArray } from '../../maps/slotArray.js';
import { type Helper, negErrno as neg, argU32 as u32 } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';
import { XdpAction } from '../../uapi/xdp.js';
import type { XdpFrame } from '../xdp.js';

/** The loopback device: the only one a test run has, unless the runtime is told of others. */
const LOOPBACK_IFINDEX = 1;
/** Clones kept per run: `repeat 1000000` would otherwise hold a million copies. */
const MAX_CLONES = 64;
/** sizeof(struct bpf_redir_neigh): nh_family and a 16-byte address. */
const BPF_REDIR_NEIGH_SIZE = 20;

/**
 * redirectHelpers: where a packet goes next. bpf_redirect (23) and bpf_redirect_map (51)
 * record the target with the verdict (XDP_REDIRECT / TC_ACT_REDIRECT), as do tc's
 * bpf_redirect_peer (155) and bpf_redirect_neigh (152); bpf_clone_redirect (13)
 * sends a copy now, which bpfbox keeps with the packet.
 */
export function redirectHelpers(rt: HookRuntime): Helper[] {
  const mem = () => rt.kernel.memory;
  const xdp = () => (rt.current.kind === 'xdp' ? rt.current : undefined);
  const skb = () => (rt.current.kind === 'skb' ? rt.current : undefined);
  return [
    {
      id: 23,
      name: 'bpf_redirect',
      fn: (ifindex, flags) => {
        const c = rt.current;
        if (c.kind === 'xdp') {
          if (flags) return BigInt(XdpAction.XDP_ABORTED);
          c.frame.redirect = { kind: 'ifindex', target: u32(ifindex) };
          return BigInt(XdpAction.XDP_REDIRECT);
        }
        if (c.kind === 'skb') {
          if (u32(flags) & ~1) return 2n; // TC_ACT_SHOT
          c.pkt.redirect = { ifindex: u32(ifindex), ingress: (u32(flags) & 1) === 1 };
          return 7n; // TC_ACT_REDIRECT
        }
        return neg(Errno.EINVAL);
      },
    },
    {
      id: 13,
      name: 'bpf_clone_redirect',
      fn: (_skb, ifindex, flags) => {
        // a copy goes out now (egress, or ingress with BPF_F_INGRESS) to a device that must exist
        const c = skb();
        if (
          !c ||
          u32(flags) & ~1 ||
          !(rt.options.ifindexes ?? rt.options.devices?.map((d) => d.ifindex) ?? [LOOPBACK_IFINDEX]).includes(u32(ifindex))
        )
          return neg(Errno.EINVAL);
        const p = c.pkt;
        if ((p.clones ??= []).length < MAX_CLONES)
          p.clones.push({ ifindex: u32(ifindex), ingress: (u32(flags) & 1) === 1, data: mem().u8.slice(p.mac, p.dataEnd) });
        return 0n;
      },
    },
    {
      id: 155,
      name: 'bpf_redirect_peer',
      fn: (ifindex, flags) => {
        // any flag: TC_ACT_SHOT; else TC_ACT_REDIRECT with BPF_F_PEER recorded
        const c = skb();
        if (!c || flags) return 2n;
        c.pkt.redirect = { ifindex: u32(ifindex), ingress: false, via: 'peer' };
        return 7n;
      },
    },
    {
      id: 152,
      name: 'bpf_redirect_neigh',
      fn: (ifindex, params, plen, flags) => {
        // plen 0 (no next hop) or at least sizeof(struct bpf_redir_neigh); no flags: else TC_ACT_SHOT
        const c = skb();
        const n = u32(plen);
        if (!c || (n && n < BPF_REDIR_NEIGH_SIZE) || flags) return 2n;
        const a = u32(params);
        c.pkt.redirect = {
          ifindex: u32(ifindex),
          ingress: false,
          via: 'neigh',
          ...(n ? { nexthop: mem().u8.slice(a, a + BPF_REDIR_NEIGH_SIZE) } : {}),
        };
        return 7n;
      },
    },
    {
      id: 51,
      name: 'bpf_redirect_map',
      fn: (map, key, flags) => {
        const c = xdp();
        const m = rt.views.get(u32(map));
        const fallback = BigInt(u32(flags) & 0x3);
        const k = u32(key);
        if (u32(flags) > XdpAction.XDP_TX) return BigInt(XdpAction.XDP_ABORTED);
        // a DEVMAP or CPUMAP slot holds an ifindex or a queue size (0: empty); a DEVMAP_HASH a key
        const present =
          m instanceof SlotArray
            ? m.slotValue(k) !== 0
            : m.type === MapType.BPF_MAP_TYPE_DEVMAP_HASH && m.lookup(scratchKey(rt, k), 0) !== 0;
        if (!present) return fallback;
        if (c) c.frame.redirect = { kind: 'map', target: k, mapId: m.id, desc: u32(map) };
        return BigInt(XdpAction.XDP_REDIRECT);
      },
    },
  ];
}

/** scratchKey writes a u32 key into the spare last word of the context region, for a map lookup by address. */
function scratchKey(rt: HookRuntime, k: number): number {
  const a = rt.ctx.start + 252;
  rt.kernel.memory.view.setUint32(a, k, true);
  return a;
}

/**
 * RedirectTarget: where a redirected packet goes: out of `ifindex` (bpf_redirect, or the
 * ifindex a DEVMAP / DEVMAP_HASH entry holds, with `prog` the id of the entry's own program,
 * run first), into `ifindex` as if received there (tc's BPF_F_INGRESS), or to CPU `cpu` (a
 * CPUMAP entry: the packet goes up the stack from there); nothing when the entry went away
 * after the helper saw it.
 */
export type RedirectTarget =
  | { readonly ifindex: number; readonly ingress?: boolean; readonly prog?: number }
  | { readonly cpu: number }
  | undefined;

/** redirectTarget resolves what bpf_redirect / bpf_redirect_map recorded with the verdict. */
export function redirectTarget(
  rt: HookRuntime,
  r: NonNullable<XdpFrame['redirect']> | { readonly ifindex: number; readonly ingress: boolean },
): RedirectTarget {
  if (!('kind' in r)) return { ifindex: r.ifindex, ingress: r.ingress };
  if (r.kind === 'ifindex') return { ifindex: r.target };
  const m = rt.views.get(r.desc!);
  if (m.type === MapType.BPF_MAP_TYPE_CPUMAP) return { cpu: r.target };
  // a DEVMAP entry's value: the ifindex, then (8-byte values: struct bpf_devmap_val) its program's id
  const at = m.lookup(scratchKey(rt, r.target), 0);
  if (!at) return undefined;
  const dv = rt.kernel.memory.view;
  const ifindex = dv.getUint32(at, true);
  const prog = m.valueSize >= 8 ? dv.getUint32(at + 4, true) : 0;
  return ifindex ? { ifindex, ...(prog ? { prog } : {}) } : undefined;
}
