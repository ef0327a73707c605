import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno as neg, argU32 as u32 } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';

/**
 * xfrmHelpers: bpf_skb_get_xfrm_state (66) (net/core/filter.c) copies the index-th IPsec
 * state of the skb's security path (sec_path: the states that decrypted it). No packet in
 * bpfbox's world went through xfrm, so every skb is one without a sec_path: the kernel zeroes
 * the `size` bytes of the buffer and returns -EINVAL, and so does bpfbox.
 */
export function xfrmHelpers(rt: HookRuntime): Helper[] {
  return [
    {
      id: 66,
      name: 'bpf_skb_get_xfrm_state',
      fn: (_skb, _index, to, size) => (rt.kernel.memory.u8.fill(0, u32(to), u32(to) + u32(size)), neg(Errno.EINVAL)),
    },
  ];
}
