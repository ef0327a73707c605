import { BPF_DYNPTR_TYPE, dynptrCheckOffLen, dynptrInit, dynptrRead, dynptrSetNull } from '../../uapi/dynptr.js';
import { SkBuff } from '../../uapi/skBuff.js';
import { XdpMd } from '../../uapi/xdp.js';
import { type Helper, negErrno } from '../../vm/helpers.js';
import { kfuncByName } from '../../vm/verifier/kfuncs.js';
import type { HookRuntime } from '../runtime.js';

const EINVAL = 22;

/** packetBounds: the packet a skb or xdp dynptr's context holds now: its first byte's address and its length. */
export function packetBounds(dv: DataView, ctx: number, type: number): { data: number; size: number } {
  const [dataAt, endAt] = type === BPF_DYNPTR_TYPE.XDP ? [XdpMd.data, XdpMd.data_end] : [SkBuff.data, SkBuff.data_end];
  const data = dv.getUint32(ctx + dataAt, true);
  return { data, size: dv.getUint32(ctx + endAt, true) - data };
}

const kfunc = (name: string, fn: Helper['fn']): Helper => ({ id: kfuncByName(name)!.id, name, fn });

/**
 * packetDynptrKfuncs: dynptrs over the packet of an XDP or skb program (net/core/filter.c's
 * bpf_dynptr_from_xdp / _skb) and slices of them (kernel/bpf/helpers.c's bpf_dynptr_slice and
 * _rdwr). A dynptr is 16 bytes of the program's stack (uapi/dynptr.ts): for these the context's
 * address, and the packet's length when it was made. Like the kernel's, it names the packet, not
 * a copy: a slice is taken from the packet's bounds as they are at that moment.
 */
export function packetDynptrKfuncs(rt?: HookRuntime): Helper[] {
  // an XDP dynptr's size is the whole frame's, fragments too (xdp_get_buff_len)
  const fragBytes = (type: number): number =>
    type === BPF_DYNPTR_TYPE.XDP && rt?.current.kind === 'xdp' ? (rt.current.frame.frags?.length ?? 0) : 0;
  const from = (name: string, type: number) =>
    kfunc(name, (ctx, flags, ptr, _r4, _r5, env) => {
      const dv = env.memory.view;
      const p = Number(ptr);
      // no flags are defined: the dynptr is left NULL (bpf_dynptr_set_null)
      if (flags !== 0n) return (dynptrSetNull(dv, p), negErrno(EINVAL));
      const c = Number(BigInt.asUintN(32, ctx));
      dynptrInit(dv, p, { data: c, type, size: packetBounds(dv, c, type).size + fragBytes(type) });
      return 0n;
    });
  const slice = (name: string) =>
    kfunc(name, (ptr, offset, _buf, len, _r5, env) => {
      const dv = env.memory.view;
      const d = dynptrRead(dv, Number(ptr));
      if (!d.data) return 0n;
      const o = Number(BigInt.asUintN(32, offset));
      const n = Number(BigInt.asUintN(32, len));
      // bpf_dynptr_check_off_len: the slice lies inside the dynptr, or there is none
      if (!dynptrCheckOffLen(d, o, n)) return 0n;
      // a local or ring buffer dynptr's slice is its memory; a packet's must lie in the packet as it is now
      if (d.type !== BPF_DYNPTR_TYPE.SKB && d.type !== BPF_DYNPTR_TYPE.XDP) return BigInt(d.data + d.offset + o);
      const { data, size } = packetBounds(dv, d.data, d.type);
      const off = d.offset + o;
      if (n > size || off > size - n) return 0n;
      // the packet is one linear buffer here: the slice is the packet's own bytes, the buffer unused
      return BigInt(data + off);
    });
  return [
    from('bpf_dynptr_from_xdp', BPF_DYNPTR_TYPE.XDP),
    from('bpf_dynptr_from_skb', BPF_DYNPTR_TYPE.SKB),
    slice('bpf_dynptr_slice'),
    slice('bpf_dynptr_slice_rdwr'),
  ];
}
