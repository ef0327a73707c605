import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno as neg, argU32 as u32 } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';

/** _NSIG: the highest signal number valid_signal accepts (64 on x86-64). */
const NSIG = 64;

/** SignalCounts: the signals programs asked for, by `process:N` / `thread:N`, and how often. */
export type SignalCounts = Map<string, number>;

/**
 * signalHelpers: bpf_send_signal (109) and bpf_send_signal_thread (117)
 * (bpf_send_signal_common, kernel/trace/bpf_trace.c). In the kernel's test run the program
 * runs with preemption off, so the kernel checks valid_signal early (a signal above _NSIG:
 * -EINVAL) and queues the signal to the calling process (or thread) as irq work, returning 0.
 * bpfbox never delivers a signal to itself (it would kill or stop the emulator, not a
 * program's target): it validates the same way, returns the kernel's 0 for a valid signal, and
 * counts the request in HookRuntime.signals (`process:10` → times asked), where a user can
 * see what the program would have done.
 */
export function signalHelpers(rt: HookRuntime): Helper[] {
  const send = (scope: 'process' | 'thread') => (sig: bigint) => {
    const s = u32(sig);
    if (s > NSIG) return neg(Errno.EINVAL);
    const key = `${scope}:${s}`;
    rt.signals.set(key, (rt.signals.get(key) ?? 0) + 1);
    return 0n;
  };
  return [
    { id: 109, name: 'bpf_send_signal', fn: send('process') },
    { id: 117, name: 'bpf_send_signal_thread', fn: send('thread') },
  ];
}
