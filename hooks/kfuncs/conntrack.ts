import { type Helper, argU32 } from '../../vm/helpers.js';
import { kfuncByName } from '../../vm/verifier/kfuncs.js';

/** struct bpf_ct_opts sizes the kernel takes (net/netfilter/nf_conntrack_bpf.c): NF_BPF_CT_OPTS_SZ and the older one. */
export const NF_BPF_CT_OPTS_SZ = 16;
export const NF_BPF_CT_OPTS_OLD_SZ = 12;
/** BPF_F_CURRENT_NETNS: opts.netns_id for the program's own namespace. */
const BPF_F_CURRENT_NETNS = -1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
/** struct bpf_sock_tuple's ipv4 and ipv6 halves. */
const TUPLE_V4 = 12;
const TUPLE_V6 = 36;
const EINVAL = 22;
const EAFNOSUPPORT = 97;
const EPROTO = 71;
const ENOENT = 2;

const kfunc = (name: string, fn: Helper['fn']): Helper => ({ id: kfuncByName(name)!.id, name, fn });

/**
 * conntrackKfuncs: the conntrack lookups of XDP and TC programs (bpf_xdp_ct_lookup,
 * bpf_skb_ct_lookup) and bpf_ct_release. bpfbox keeps no connection table, so every valid
 * lookup misses: NULL, with opts->error = -ENOENT, as the kernel's does for a connection it
 * does not track; invalid arguments give the kernel's errors in opts->error (__bpf_nf_ct_lookup's
 * checks, in its order). struct bpf_ct_opts: `s32 netns_id` at 0, `s32 error` at 4, `u8 l4proto`
 * at 8, `u8 dir` at 9, `u16 ct_zone_id` at 10 (0 in the 12-byte form), `u8 ct_zone_dir` at 12,
 * `u8 reserved[3]` at 13 (0).
 */
export function conntrackKfuncs(): Helper[] {
  const lookup = (name: string) =>
    kfunc(name, (_ctx, tuple, tupleSz, opts, optsSz, env) => {
      if (opts === 0n) return 0n;
      const dv = env.memory.view;
      const o = Number(opts);
      const fail = (errno: number) => (dv.setInt32(o + 4, -errno, true), 0n);
      const size = argU32(optsSz);
      if (tuple === 0n || (size !== NF_BPF_CT_OPTS_SZ && size !== NF_BPF_CT_OPTS_OLD_SZ)) return fail(EINVAL);
      // the 16-byte form's reserved[3]; the 12-byte form's ct_zone_id (its old reserved[2])
      const reserved = size === NF_BPF_CT_OPTS_OLD_SZ ? [10, 11] : [13, 14, 15];
      if (reserved.some((at) => dv.getUint8(o + at) !== 0)) return fail(EINVAL);
      if (dv.getInt32(o, true) < BPF_F_CURRENT_NETNS) return fail(EINVAL);
      const t = argU32(tupleSz);
      if (t !== TUPLE_V4 && t !== TUPLE_V6) return fail(EAFNOSUPPORT);
      const proto = dv.getUint8(o + 8);
      if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return fail(EPROTO);
      return fail(ENOENT);
    });
  return [lookup('bpf_xdp_ct_lookup'), lookup('bpf_skb_ct_lookup'), kfunc('bpf_ct_release', () => 0n)];
}
