import { SkBuff } from '../../uapi/skBuff.js';
import { XdpMd } from '../../uapi/xdp.js';
import { type Helper, negErrno } from '../../vm/helpers.js';
import { kfuncByName } from '../../vm/verifier/kfuncs.js';

/** enum bpf_dynptr_type (include/linux/bpf.h): the kinds of packet dynptr bpfbox makes. */
export const BPF_DYNPTR_TYPE_SKB = 3;
export const BPF_DYNPTR_TYPE_XDP = 4;
const EINVAL = 22;

const kfunc = (name: string, fn: Helper['fn']): Helper => ({ id: kfuncByName(name)!.id, name, fn });

/**
 * packetDynptrKfuncs: dynptrs over the packet of an XDP or skb program (net/core/filter.c's
 * bpf_dynptr_from_xdp / _skb) and slices of them (kernel/bpf/helpers.c's bpf_dynptr_slice and
 * _rdwr). A dynptr is 16 bytes of the program's stack (the kernel's struct bpf_dynptr_kern):
 * here the context's address at 0, its type at 8, its offset at 12. Like the kernel's, it names
 * the packet, not a copy: a slice is taken from the packet's bounds as they are at that moment.
 */
export function packetDynptrKfuncs(): Helper[] {
  const from = (name: string, type: number) =>
    kfunc(name, (ctx, flags, ptr, _r4, _r5, env) => {
      const dv = env.memory.view;
      const p = Number(ptr);
      dv.setBigUint64(p, 0n, true);
      dv.setBigUint64(p + 8, 0n, true);
      // no flags are defined: the dynptr is left NULL (bpf_dynptr_set_null)
      if (flags !== 0n) return negErrno(EINVAL);
      dv.setUint32(p, Number(ctx), true);
      dv.setUint32(p + 8, type, true);
      return 0n;
    });
  const slice = (name: string) =>
    kfunc(name, (ptr, offset, _buf, len, _r5, env) => {
      const dv = env.memory.view;
      const p = Number(ptr);
      const ctx = dv.getUint32(p, true);
      const type = dv.getUint32(p + 8, true);
      if (!ctx) return 0n;
      const [dataAt, endAt] = type === BPF_DYNPTR_TYPE_XDP ? [XdpMd.data, XdpMd.data_end] : [SkBuff.data, SkBuff.data_end];
      const data = dv.getUint32(ctx + dataAt, true);
      const size = dv.getUint32(ctx + endAt, true) - data;
      const off = dv.getUint32(p + 12, true) + Number(BigInt.asUintN(32, offset));
      const n = Number(BigInt.asUintN(32, len));
      // bpf_dynptr_check_off_len: the slice lies inside the packet, or there is none
      if (n > size || off > size - n) return 0n;
      // the packet is one linear buffer here: the slice is the packet's own bytes, the buffer unused
      return BigInt(data + off);
    });
  return [
    from('bpf_dynptr_from_xdp', BPF_DYNPTR_TYPE_XDP),
    from('bpf_dynptr_from_skb', BPF_DYNPTR_TYPE_SKB),
    slice('bpf_dynptr_slice'),
    slice('bpf_dynptr_slice_rdwr'),
  ];
}
