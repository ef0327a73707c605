import { Errno } from '../../uapi/errno.js';
import { MapType } from '../../uapi/mapType.js';
import { SlotArray } from '../../maps/slotArray.js';
import { type Helper, type HelperEnv, negErrno as neg } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';

/** BPF_F_CURRENT_CPU: the perf event array index meaning "this CPU's". */
const BPF_F_CURRENT_CPU = 0xffffffffn;
/** BPF_F_CTXLEN_MASK: the upper 32 bits of the flags, packet bytes to append (XDP, skb). */
const CTXLEN_SHIFT = 32n;

/** PerfRecord is one bpf_perf_event_output sample as a userspace reader gets it. */
export interface PerfRecord {
  readonly mapId: number;
  readonly cpu: number;
  readonly data: Uint8Array;
}

/**
 * formatPrintf renders a bpf_snprintf / bpf_trace_printk format with u64 arguments: %d %i %u
 * %x %X %c %s (a string in the shared memory) %p, with l/ll modifiers and widths.
 */
export function formatPrintf(fmt: string, args: readonly bigint[], env: HelperEnv): string {
  let n = 0;
  return fmt.replace(/%(-?0?\d*)(l{0,2})([diuxXcsp%])/g, (_m, width: string, l: string, conv: string) => {
    if (conv === '%') return '%';
    const v = args[n++] ?? 0n;
    let s: string;
    switch (conv) {
      case 'd':
      case 'i':
        s = String(BigInt.asIntN(l ? 64 : 32, v));
        break;
      case 'u':
        s = String(BigInt.asUintN(l ? 64 : 32, v));
        break;
      case 'x':
        s = BigInt.asUintN(l ? 64 : 32, v).toString(16);
        break;
      case 'X':
        s = BigInt.asUintN(l ? 64 : 32, v)
          .toString(16)
          .toUpperCase();
        break;
      case 'c':
        s = String.fromCharCode(Number(v & 0xffn));
        break;
      case 'p':
        s = `0x${v.toString(16)}`;
        break;
      default: {
        const u8 = env.memory.u8;
        let end = Number(v);
        while (end < u8.length && u8[end] !== 0 && end - Number(v) < 4096) end++;
        s = new TextDecoder().decode(u8.subarray(Number(v), end));
      }
    }
    const w = Number(width.replace(/^-?0?/, '') || 0);
    if (s.length >= w) return s;
    if (width.startsWith('-')) return s.padEnd(w);
    return width.replace(/^-/, '').startsWith('0') ? s.padStart(w, '0') : s.padStart(w);
  });
}

/**
 * outputHelpers: bpf_snprintf (165) writes a formatted string (truncated, NUL-terminated) and
 * returns its full length with the NUL; bpf_perf_event_output (25) sends `size` bytes, plus
 * the first N packet bytes when the flags' upper half says N, to the perf event array slot of
 * the index (or of this CPU), where `HookRuntime.perfRecords` reads them; an empty slot is
 * -ENOENT, as with no perf event open there.
 */
export function outputHelpers(rt: HookRuntime): Helper[] {
  return [
    {
      id: 165,
      name: 'bpf_snprintf',
      fn: (str, size, fmt, data, dataLen, env) => {
        if (dataLen % 8n) return neg(Errno.EINVAL);
        const u8 = env.memory.u8;
        let end = Number(fmt);
        while (u8[end] !== 0) end++;
        const args = Array.from({ length: Number(dataLen) / 8 }, (_, i) => env.memory.view.getBigUint64(Number(data) + 8 * i, true));
        const text = new TextEncoder().encode(formatPrintf(new TextDecoder().decode(u8.subarray(Number(fmt), end)), args, env));
        const room = Number(size);
        if (room > 0) {
          const n = Math.min(text.length, room - 1);
          u8.set(text.subarray(0, n), Number(str));
          u8[Number(str) + n] = 0;
        }
        return BigInt(text.length + 1);
      },
    },
    {
      id: 25,
      name: 'bpf_perf_event_output',
      fn: (_ctx, map, flags, data, size, env) => {
        const m = rt.views.get(Number(map));
        if (!(m instanceof SlotArray) || m.type !== MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY) return neg(Errno.EINVAL);
        const idx = (flags & 0xffffffffn) === BPF_F_CURRENT_CPU ? rt.cpu : Number(flags & 0xffffffffn);
        if (idx >= m.maxEntries) return neg(Errno.E2BIG);
        if (m.slotValue(idx) === 0) return neg(Errno.ENOENT);
        const ctxLen = Number((flags >> CTXLEN_SHIFT) & 0xfffffn);
        const body = env.memory.u8.slice(Number(data), Number(data) + Number(size));
        let pkt = new Uint8Array(0);
        const c = rt.current;
        if (ctxLen > 0) {
          const from = c.kind === 'xdp' ? c.frame.data : c.kind === 'skb' ? c.pkt.mac : 0;
          const to = c.kind === 'xdp' ? c.frame.dataEnd : c.kind === 'skb' ? c.pkt.dataEnd : 0;
          if (from + ctxLen > to) return neg(Errno.EFAULT);
          pkt = env.memory.u8.slice(from, from + ctxLen);
        }
        const rec = new Uint8Array(body.length + pkt.length);
        rec.set(body);
        rec.set(pkt, body.length);
        rt.perf.push({ mapId: m.id, cpu: idx, data: rec });
        return 0n;
      },
    },
  ];
}
