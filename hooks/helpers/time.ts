import type { Helper } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';
import { formatPrintf } from './output.js';

const started = process.hrtime.bigint();
/** monotonicNs: the runtime's default clock (nanoseconds since this module loaded, from 1), bpf_ktime_get_ns's and the timers'. */
export const monotonicNs = (): bigint => process.hrtime.bigint() - started + 1n;

/**
 * timeHelpers: bpf_ktime_get_ns (5), _boot_ns (125), _coarse_ns (160), _tai_ns (208), bpf_jiffies64 (118), bpf_get_prandom_u32
 * (7, an xorshift stream from the runtime's seed), bpf_get_smp_processor_id (8),
 * bpf_get_numa_node_id (42, always 0), bpf_trace_printk (6, to the runtime's trace sink).
 */
export function timeHelpers(rt: HookRuntime): Helper[] {
  const clock = rt.options.clock ?? monotonicNs;
  let state = (rt.options.seed ?? Date.now()) >>> 0 || 0x9e3779b9;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return BigInt(state >>> 0);
  };
  return [
    { id: 5, name: 'bpf_ktime_get_ns', fn: () => clock() },
    { id: 125, name: 'bpf_ktime_get_boot_ns', fn: () => clock() },
    { id: 160, name: 'bpf_ktime_get_coarse_ns', fn: () => clock() - (clock() % 4_000_000n) },
    // CLOCK_TAI: the clock plus TAI's 37 leap seconds
    { id: 208, name: 'bpf_ktime_get_tai_ns', fn: () => clock() + 37_000_000_000n },
    // jiffies at HZ=250 (Debian's), from INITIAL_JIFFIES (-300 s) as the kernel starts them
    { id: 118, name: 'bpf_jiffies64', fn: () => BigInt.asUintN(64, clock() / 4_000_000n - 75_000n) },
    { id: 7, name: 'bpf_get_prandom_u32', fn: next },
    { id: 8, name: 'bpf_get_smp_processor_id', fn: () => BigInt(rt.cpu), fn32: () => rt.cpu, ret: 'u32', constant: true },
    { id: 42, name: 'bpf_get_numa_node_id', fn: () => 0n },
    {
      id: 6,
      name: 'bpf_trace_printk',
      fn: (fmt, size, a1, a2, a3, env) => {
        const u8 = env.memory.u8;
        const start = Number(fmt);
        let text = new TextDecoder().decode(u8.subarray(start, start + Number(size)));
        text = text.replace(/\0.*$/s, '');
        const line = formatPrintf(text, [a1, a2, a3], env);
        rt.options.trace?.(line.replace(/\n$/, ''));
        return BigInt(line.length);
      },
    },
  ];
}
