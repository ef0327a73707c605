import { BpfFibLookup, FibFlag, FibRet } from '../../uapi/fibLookup.js';
import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';

/** Route is one entry of the route table bpf_fib_lookup consults (from config). */
export interface Route {
  /** Destination prefix: `10.0.0.0/8`, `2001:db8::/32`. */
  readonly dst: string;
  readonly ifindex: number;
  /** Next hop; the destination itself when absent (a directly connected network). */
  readonly gateway?: string;
  /** The outgoing device's MAC (written with the neighbour's). */
  readonly smac?: string;
  /**
   * The MTU a forwarded packet must fit: the device's, or a locked route MTU (`mtu lock N`;
   * the kernel ignores an unlocked one unless ip_forward_use_pmtu is set). Default 1500.
   */
  readonly mtu?: number;
  /** The source address for BPF_FIB_LOOKUP_SRC (the route's prefsrc, or what the kernel would select). */
  readonly src?: string;
  /** The route's priority as `ip route` shows it (written to rt_metric); default 0. */
  readonly metric?: number;
  /** `local` is an address of this host: not forwarded, like the kernel's RTN_LOCAL. */
  readonly kind?: 'unicast' | 'local' | 'blackhole' | 'unreachable' | 'prohibit';
}

/** Neighbour is a resolved neighbour entry (`ip neigh`): the next hop's MAC. */
export interface Neighbour {
  readonly ip: string;
  readonly mac: string;
}

/** Device: a network device bpf_fib_lookup may be asked about (ip link; forwarding as sysctl net.*.conf.DEV.forwarding). */
export interface Device {
  readonly ifindex: number;
  readonly forwarding: boolean;
  /** dev->mtu (bpf_check_mtu); 1500 unless told (the loopback device, ifindex 1, 65536). */
  readonly mtu?: number;
}

const F = BpfFibLookup;
const { BPF_FIB_LOOKUP_DIRECT, BPF_FIB_LOOKUP_OUTPUT, BPF_FIB_LOOKUP_SKIP_NEIGH, BPF_FIB_LOOKUP_TBID, BPF_FIB_LOOKUP_SRC } = FibFlag;
/** The flags bpf_fib_lookup knows (BPF_FIB_LOOKUP_MARK, 32, is accepted and, with no rules, changes nothing). */
const KNOWN_FLAGS = 0x3f;
const AF_INET = 2;
const AF_INET6 = 10;
const RT_TABLE_MAIN = 254;
const RT_TABLE_LOCAL = 255;
const EAFNOSUPPORT = 97;

/** parseAddr turns an IPv4 or IPv6 text address into bytes (network order). */
export function parseAddr(a: string): Uint8Array {
  if (a.includes('.')) return Uint8Array.from(a.split('.').map(Number));
  const [head, tail = ''] = a.split('::');
  const words = (x: string) => (x ? x.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  const all = a.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill(0), ...t] : h;
  return Uint8Array.from(all.flatMap((w) => [w >> 8, w & 0xff]));
}

const mac = (m: string) => Uint8Array.from(m.split(':').map((x) => parseInt(x, 16)));

function covers(prefix: Uint8Array, len: number, addr: Uint8Array): boolean {
  for (let b = 0; b < len; b++) if (((prefix[b >> 3] ^ addr[b >> 3]) >> (7 - (b & 7))) & 1) return false;
  return true;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * fibHelpers: bpf_fib_lookup (69) against the runtime's route and neighbour tables, in the
 * order the kernel (6.x) checks and writes: longest prefix match on the destination in the
 * table the flags choose (DIRECT, TBID, OUTPUT: see below) (none, or
 * a local route: NOT_FWDED; blackhole/unreachable/prohibit: their codes, nothing written);
 * tot_len over the route's MTU: FRAG_NEEDED with only mtu_result written; then the egress
 * ifindex, rt_metric, the source (BPF_FIB_LOOKUP_SRC) and the gateway as the destination
 * are written; SKIP_NEIGH succeeds
 * there; an unresolved next hop is NO_NEIGH; otherwise both MACs. Success clears the VLAN
 * fields and reports the MTU in mtu_result.
 */
export function fibHelpers(rt: HookRuntime): Helper[] {
  return [
    {
      id: 69,
      name: 'bpf_fib_lookup',
      fn: (_ctx, params, plen, flags, _r5, env) => {
        if (Number(plen) < F.SIZE || (Number(flags) & ~KNOWN_FLAGS) !== 0) return negErrno(Errno.EINVAL);
        const u8 = env.memory.u8;
        const dv = env.memory.view;
        const p = Number(params);
        const family = u8[p + F.family];
        if (family !== AF_INET && family !== AF_INET6) return negErrno(EAFNOSUPPORT);
        const size = family === AF_INET ? 4 : 16;
        const dst = u8.slice(p + F.dst, p + F.dst + size);
        // the device asked about must exist and forward
        const dev = (rt.options.devices ?? [{ ifindex: 1, forwarding: true }]).find((d) => d.ifindex === dv.getUint32(p + F.ifindex, true));
        if (!dev) return negErrno(Errno.ENODEV);
        if (!dev.forwarding) return BigInt(FibRet.FWD_DISABLED);
        // which routes the lookup sees: DIRECT looks in one table (main, or TBID's, whose field it
        // then zeroes); IPv4 keeps local and main merged, IPv6 keeps local routes in their own
        // table; an OUTPUT IPv4 lookup only takes routes out of params->ifindex
        let table: 'all' | 'main' | 'local' = 'all';
        if (Number(flags) & BPF_FIB_LOOKUP_DIRECT) {
          let tbid = RT_TABLE_MAIN;
          if (Number(flags) & BPF_FIB_LOOKUP_TBID) {
            tbid = dv.getUint32(p + F.vlan_proto, true);
            dv.setUint32(p + F.vlan_proto, 0, true);
          }
          if (tbid !== RT_TABLE_MAIN && tbid !== RT_TABLE_LOCAL) return BigInt(FibRet.NOT_FWDED);
          if (family === AF_INET6) table = tbid === RT_TABLE_MAIN ? 'main' : 'local';
        }
        const oif = Number(flags) & BPF_FIB_LOOKUP_OUTPUT && family === AF_INET ? dv.getUint32(p + F.ifindex, true) : 0;
        let best: { route: Route; len: number } | undefined;
        for (const route of rt.options.routes ?? []) {
          if ((table === 'main' && route.kind === 'local') || (table === 'local' && route.kind !== 'local')) continue;
          if (oif && (route.kind ?? 'unicast') === 'unicast' && route.ifindex !== oif) continue;
          const [addr, lenText] = route.dst.split('/');
          const prefix = parseAddr(addr);
          if (prefix.length !== size) continue;
          const len = Number(lenText ?? 8 * size);
          if (covers(prefix, len, dst) && (!best || len > best.len)) best = { route, len };
        }
        const r = best?.route;
        if (!r || r.kind === 'local') return BigInt(FibRet.NOT_FWDED);
        if (r.kind === 'blackhole') return BigInt(FibRet.BLACKHOLE);
        if (r.kind === 'unreachable') return BigInt(FibRet.UNREACHABLE);
        if (r.kind === 'prohibit') return BigInt(FibRet.PROHIBIT);
        const mtu = r.mtu ?? 1500;
        if (dv.getUint16(p + F.tot_len, true) > mtu) {
          dv.setUint16(p + F.tot_len, mtu, true);
          return BigInt(FibRet.FRAG_NEEDED);
        }
        dv.setUint32(p + F.ifindex, r.ifindex, true);
        dv.setUint32(p + F.rt_metric, r.metric ?? 0, true);
        if (Number(flags) & BPF_FIB_LOOKUP_SRC) {
          // IPv4 takes what address selection gives (none: 0.0.0.0); IPv6 without one is NO_SRC_ADDR
          if (!r.src && family === AF_INET6) return BigInt(FibRet.NO_SRC_ADDR);
          u8.set(r.src ? parseAddr(r.src) : new Uint8Array(4), p + F.src);
        }
        const nextHop = r.gateway ? parseAddr(r.gateway) : dst;
        u8.set(nextHop, p + F.dst);
        if ((Number(flags) & BPF_FIB_LOOKUP_SKIP_NEIGH) === 0) {
          const neigh = (rt.options.neighbours ?? []).find((n) => sameBytes(parseAddr(n.ip), nextHop));
          if (!neigh) return BigInt(FibRet.NO_NEIGH);
          u8.set(mac(neigh.mac), p + F.dmac);
          u8.set(r.smac ? mac(r.smac) : new Uint8Array(6), p + F.smac);
        }
        dv.setUint32(p + F.vlan_proto, 0, true);
        dv.setUint16(p + F.tot_len, mtu, true);
        return BigInt(FibRet.SUCCESS);
      },
    },
  ];
}
