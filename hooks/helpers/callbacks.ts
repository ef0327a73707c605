import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno as neg } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';

/** BPF_RB_NO_WAKEUP, BPF_RB_FORCE_WAKEUP: the flags ring buffer helpers take. */
const BPF_RB_NO_WAKEUP = 1;
const BPF_RB_FORCE_WAKEUP = 2;

/** BPF_MAX_LOOPS: bpf_loop's limit on iterations (1 << 23). */
const BPF_MAX_LOOPS = 1 << 23;

/**
 * callbackHelpers: bpf_loop (181) calls `fn(i, ctx)` for i = 0.. until it returns non-zero
 * or `nr` runs are done and returns how many ran; bpf_for_each_map_elem (164) calls
 * `fn(map, key, value, ctx)` per element until it returns 1 and returns how many it visited.
 * Flags must be 0. bpf_user_ringbuf_drain (209) calls `fn(dynptr, ctx)` per sample user space
 * wrote and returns how many it drained; bpfbox has no user-space producer for a
 * BPF_MAP_TYPE_USER_RINGBUF yet, so the ring is always empty: it checks its flags
 * (BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP only) and drains 0.
 */
export function callbackHelpers(rt: HookRuntime): Helper[] {
  return [
    {
      id: 181,
      name: 'bpf_loop',
      fn: (nr, fn, ctx, flags, _r5, env) => {
        if (flags !== 0n) return neg(Errno.EINVAL);
        if (nr > BigInt(BPF_MAX_LOOPS)) return neg(Errno.E2BIG);
        const n = Number(nr);
        for (let i = 0; i < n; i++) {
          if (env.callback!(fn, BigInt(i), ctx) !== 0n) return BigInt(i + 1);
        }
        return BigInt(n);
      },
    },
    {
      id: 164,
      name: 'bpf_for_each_map_elem',
      fn: (map, fn, ctx, flags, _r5, env) => {
        if (flags !== 0n) return neg(Errno.EINVAL);
        const m = rt.views.get(Number(map));
        const keyScratch = rt.ctx.start + 240;
        return BigInt(m.forEachElem((k, v) => env.callback!(fn, map, BigInt(k), BigInt(v), ctx) === 1n, rt.cpu, keyScratch));
      },
    },
    {
      id: 209,
      name: 'bpf_user_ringbuf_drain',
      fn: (_map, _fn, _ctx, flags) => (flags & ~BigInt(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP) ? neg(Errno.EINVAL) : 0n),
    },
  ];
}
