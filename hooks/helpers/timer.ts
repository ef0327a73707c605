import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno as neg } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';

/** The clocks bpf_timer_init accepts (include/uapi/linux/time.h), and MAX_CLOCKS. */
const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;
const CLOCK_BOOTTIME = 7;
const MAX_CLOCKS = 16;
/** bpf_timer_start's flags: BPF_F_TIMER_ABS (nsecs is a time on the timer's clock, not a delay), BPF_F_TIMER_CPU_PIN. */
const BPF_F_TIMER_ABS = 1n;
const BPF_F_TIMER_CPU_PIN = 2n;

/**
 * timerHelpers: bpf_timer_init (169), bpf_timer_set_callback (170), bpf_timer_start (171),
 * bpf_timer_cancel (172), as kernel/bpf/helpers.c gives them, on the runtime's timer queue
 * (hooks/timerQueue.ts: where timers live and when their callbacks run):
 * - init: flags are a clock id (CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME), else -EINVAL;
 *   a timer already initialised is -EBUSY.
 * - set_callback: -EINVAL before init; the callback is a function of the calling program.
 * - start: flags BPF_F_TIMER_ABS | BPF_F_TIMER_CPU_PIN only, else -EINVAL; -EINVAL before init
 *   or before a callback is set; arms (or re-arms) the timer `nsecs` from now, or at `nsecs`
 *   with BPF_F_TIMER_ABS. A pinned timer fires on this CPU, as every bpfbox timer does.
 * - cancel: -EINVAL before init; -EDEADLK from the timer's own callback (hrtimer_cancel would
 *   wait for itself); else it drops the callback (drop_prog_refcnt: start is -EINVAL until it is
 *   set again) and returns 1 if it was armed, 0 if not (hrtimer_cancel).
 * bpfbox's maps live while a program or an fd holds them, so set_callback's -EPERM (the map's
 * last user reference gone) does not arise in a test run.
 */
export function timerHelpers(rt: HookRuntime): Helper[] {
  const q = rt.timers;
  return [
    {
      id: 169,
      name: 'bpf_timer_init',
      fn: (timer, map, flags) => {
        const clockid = Number(flags & BigInt(MAX_CLOCKS - 1));
        if (flags >= BigInt(MAX_CLOCKS) || (clockid !== CLOCK_MONOTONIC && clockid !== CLOCK_REALTIME && clockid !== CLOCK_BOOTTIME))
          return neg(Errno.EINVAL);
        const addr = Number(timer);
        if (q.get(addr)) return neg(Errno.EBUSY);
        // the element holding the timer (the verifier checked the pointer is its struct bpf_timer)
        const elem = rt.elementOf(Number(map), addr);
        if (!elem) return neg(Errno.EINVAL);
        q.create(addr, elem.value, Number(map), clockid);
        return 0n;
      },
    },
    {
      id: 170,
      name: 'bpf_timer_set_callback',
      fn: (timer, fn, _r3, _r4, _r5, env) => {
        const t = q.get(Number(timer));
        if (!t) return neg(Errno.EINVAL);
        t.callback = { fn, call: env.callback! };
        return 0n;
      },
    },
    {
      id: 171,
      name: 'bpf_timer_start',
      fn: (timer, nsecs, flags) => {
        if (flags & ~(BPF_F_TIMER_ABS | BPF_F_TIMER_CPU_PIN)) return neg(Errno.EINVAL);
        const t = q.get(Number(timer));
        if (!t || !t.callback) return neg(Errno.EINVAL);
        q.start(t, flags & BPF_F_TIMER_ABS ? nsecs : rt.timerClock(t.clockid) + nsecs);
        return 0n;
      },
    },
    {
      id: 172,
      name: 'bpf_timer_cancel',
      fn: (timer) => {
        const t = q.get(Number(timer));
        if (!t) return neg(Errno.EINVAL);
        if (q.running === t) return neg(Errno.EDEADLK);
        // the callback is dropped (drop_prog_refcnt): a start needs it set again
        t.callback = undefined;
        return q.cancel(t) ? 1n : 0n;
      },
    },
  ];
}
