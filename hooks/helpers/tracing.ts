import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno as neg, argU32 as u32 } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';
import { formatPrintf } from './output.js';

/** MAX_BPRINTF_VARARGS: the most u64 arguments bpf_trace_vprintk and bpf_snprintf take (include/linux/bpf.h). */
const MAX_BPRINTF_VARARGS = 12;
/** The conversions formatPrintf renders, each taking one argument (%% takes none). */
const CONVERSION = /%(-?0?\d*)(l{0,2})([diuxXcsp%])/g;

/**
 * tracingHelpers: the tracing helpers bpf_base_func_proto gives every type as root.
 *
 * bpf_trace_vprintk (177): bpf_trace_printk with its arguments in a u64 array
 * (kernel/trace/bpf_trace.c): data_len not a multiple of 8, over MAX_BPRINTF_VARARGS * 8, or
 * given without an array -EINVAL; a format with no NUL within fmt_size, or with more
 * conversions than arguments, -EINVAL (bpf_bprintf_prepare); else the line goes to the
 * runtime's trace sink and the helper returns its length, as bpf_trace_printk (time.ts) does.
 *
 * bpf_get_branch_snapshot (176): the last branch records the PMU keeps (LBR). There are none
 * here (perf_snapshot_branch_stack's default answers 0 entries): flags other than 0 -EINVAL,
 * else -ENOENT, the buffer untouched, as the running kernel answers on a machine without LBR.
 */
export function tracingHelpers(rt: HookRuntime): Helper[] {
  return [
    {
      id: 177,
      name: 'bpf_trace_vprintk',
      fn: (fmt, fmtSize, args, dataLen, _r5, env) => {
        const len = u32(dataLen);
        if (len % 8 || len > MAX_BPRINTF_VARARGS * 8 || (len && !args)) return neg(Errno.EINVAL);
        const u8 = env.memory.u8;
        const bytes = u8.subarray(u32(fmt), u32(fmt) + u32(fmtSize));
        const nul = bytes.indexOf(0);
        if (nul < 0) return neg(Errno.EINVAL);
        const text = new TextDecoder().decode(bytes.subarray(0, nul));
        const specs = [...text.matchAll(CONVERSION)].filter((m) => m[3] !== '%').length;
        if (specs > len / 8) return neg(Errno.EINVAL);
        const values = Array.from({ length: len / 8 }, (_, i) => env.memory.view.getBigUint64(u32(args) + 8 * i, true));
        const line = formatPrintf(text, values, env);
        rt.options.trace?.(line.replace(/\n$/, ''));
        return BigInt(new TextEncoder().encode(line).length);
      },
    },
    { id: 176, name: 'bpf_get_branch_snapshot', fn: (_buf, _size, flags) => neg(flags ? Errno.EINVAL : Errno.ENOENT) },
  ];
}
