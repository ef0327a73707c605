import {
  BPF_DYNPTR_TYPE,
  DYNPTR_MAX_SIZE,
  type Dynptr,
  dynptrCheckOffLen,
  dynptrInit,
  dynptrRead,
  dynptrSetNull,
} from '../../uapi/dynptr.js';
import { Errno } from '../../uapi/errno.js';
import { type Helper, type HelperEnv, argU32 as u32, negErrno as neg } from '../../vm/helpers.js';
import { packetBounds } from '../kfuncs/dynptr.js';
import type { HookRuntime } from '../runtime.js';

/** BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH: the flags __bpf_skb_store_bytes takes. */
const SKB_STORE_FLAGS = 3;

/**
 * dynptrHelpers: kernel/bpf/helpers.c's dynptr helpers over the dynptr layout of uapi/dynptr.ts.
 * bpf_dynptr_from_mem (197) makes a BPF_DYNPTR_TYPE_LOCAL dynptr over `size` bytes (the verifier
 * allows only a map value), NULL on flags (-EINVAL) or a size past DYNPTR_MAX_SIZE (-E2BIG).
 * bpf_dynptr_read (201) and _write (202) copy `len` bytes at `offset` out of or into a dynptr:
 * -EINVAL for a NULL dynptr, flags (a skb dynptr's write takes __bpf_skb_store_bytes' two) or a
 * read-only one, -E2BIG past its size (bpf_dynptr_check_off_len); a packet dynptr's bytes are
 * the packet's as it is now (-EFAULT where it has shrunk below them; an XDP frame's through
 * bpf_xdp_load_bytes / _store_bytes, fragments included). bpf_dynptr_data (203) is a
 * pointer to `len` bytes at `offset` of a local or ring buffer dynptr, NULL for any other (skb
 * and xdp dynptrs have bpf_dynptr_slice), a NULL or read-only one, or out of bounds.
 */
export function dynptrHelpers(rt: HookRuntime): Helper[] {
  const mem = () => rt.kernel.memory;
  /** The address of `len` bytes at `off` of the dynptr's memory, or -errno. */
  const bytesAt = (d: Dynptr, off: number, len: number): number => {
    const at = d.offset + off;
    if (d.type !== BPF_DYNPTR_TYPE.SKB && d.type !== BPF_DYNPTR_TYPE.XDP) return d.data + at;
    const { data, size } = packetBounds(mem().view, d.data, d.type);
    return len > size || at > size - len ? -Errno.EFAULT : data + at;
  };
  /** bpf_xdp_load_bytes (189) or _store_bytes (190) on the dynptr's frame, at its offset. */
  const xdpBytes = (id: 189 | 190, d: Dynptr, off: number, buf: bigint, len: number, env: HelperEnv): bigint =>
    rt.helpers.get(id)!.fn(BigInt(d.data), BigInt(d.offset + off), buf, BigInt(len), 0n, env);
  return [
    {
      id: 197,
      name: 'bpf_dynptr_from_mem',
      fn: (data, size, flags, ptr) => {
        const [p, n] = [u32(ptr), u32(size)];
        const fail = (errno: number) => (dynptrSetNull(mem().view, p), neg(errno));
        if (n > DYNPTR_MAX_SIZE) return fail(Errno.E2BIG);
        if (flags !== 0n) return fail(Errno.EINVAL);
        dynptrInit(mem().view, p, { data: u32(data), size: n, type: BPF_DYNPTR_TYPE.LOCAL });
        return 0n;
      },
    },
    {
      id: 201,
      name: 'bpf_dynptr_read',
      fn: (dst, len, src, offset, flags, env) => {
        const d = dynptrRead(mem().view, u32(src));
        const n = u32(len);
        if (!d.data || flags !== 0n) return neg(Errno.EINVAL);
        if (!dynptrCheckOffLen(d, u32(offset), n)) return neg(Errno.E2BIG);
        // an XDP frame's bytes, fragments too, as bpf_xdp_load_bytes reads them (__bpf_xdp_load_bytes)
        if (d.type === BPF_DYNPTR_TYPE.XDP) return xdpBytes(189, d, u32(offset), dst, n, env);
        const from = bytesAt(d, u32(offset), n);
        if (from < 0) return neg(-from);
        mem().u8.copyWithin(u32(dst), from, from + n);
        return 0n;
      },
    },
    {
      id: 202,
      name: 'bpf_dynptr_write',
      fn: (dst, offset, src, len, flags, env) => {
        const d = dynptrRead(mem().view, u32(dst));
        const n = u32(len);
        if (!d.data || d.rdonly) return neg(Errno.EINVAL);
        if (!dynptrCheckOffLen(d, u32(offset), n)) return neg(Errno.E2BIG);
        // only a skb dynptr's write takes flags (__bpf_skb_store_bytes'); the rest take none
        if (d.type === BPF_DYNPTR_TYPE.SKB ? u32(flags) & ~SKB_STORE_FLAGS || flags >> 32n : flags !== 0n) return neg(Errno.EINVAL);
        if (d.type === BPF_DYNPTR_TYPE.XDP) return xdpBytes(190, d, u32(offset), src, n, env);
        const to = bytesAt(d, u32(offset), n);
        if (to < 0) return neg(-to);
        mem().u8.copyWithin(to, u32(src), u32(src) + n);
        return 0n;
      },
    },
    {
      id: 203,
      name: 'bpf_dynptr_data',
      fn: (ptr, offset, len) => {
        const d = dynptrRead(mem().view, u32(ptr));
        if (!d.data || !dynptrCheckOffLen(d, u32(offset), u32(len)) || d.rdonly) return 0n;
        if (d.type !== BPF_DYNPTR_TYPE.LOCAL && d.type !== BPF_DYNPTR_TYPE.RINGBUF) return 0n;
        return BigInt(d.data + d.offset + u32(offset));
      },
    },
  ];
}
