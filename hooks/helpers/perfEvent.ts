import { SlotArray } from '../../maps/slotArray.js';
import { Errno } from '../../uapi/errno.js';
import { MapType } from '../../uapi/mapType.js';
import { type Helper, negErrno as neg, argU32 as u32 } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';

/** BPF_F_INDEX_MASK: the flags' index bits; BPF_F_CURRENT_CPU (all of them) means this CPU's slot. */
const BPF_F_INDEX_MASK = 0xffffffffn;
const BPF_F_CURRENT_CPU = 0xffffffffn;
/**
 * struct bpf_perf_event_value:
 *
 *   0        8        16        24
 *   [counter][enabled][running]
 */
const PERF_EVENT_VALUE_SIZE = 24;

/**
 * perfEventHelpers: bpf_perf_event_read (22) and bpf_perf_event_read_value (55), as
 * get_map_perf_counter (kernel/trace/bpf_trace.c) answers: flag bits beyond BPF_F_INDEX_MASK
 * -EINVAL, an index past max_entries -E2BIG, an empty slot -ENOENT; then
 * perf_event_read_local of the slot's event. The only perf events bpfbox has are the ones a
 * perf buffer reader opens, one per CPU in slot CPU (appliance/datapath/events.ts
 * openPerfEvents): a BPF output event counts nothing, so reading the slot of the CPU the
 * program runs on gives counter 0 (enabled and running 0 too: bpfbox keeps no event times), and
 * another CPU's slot -EINVAL ("a per-CPU event must be for this CPU"). bpf_perf_event_read
 * returns the count or the error; _value fills the 24-byte bpf_perf_event_value and returns 0,
 * or zeroes the buffer and returns the error (a size other than 24: -EINVAL).
 */
export function perfEventHelpers(rt: HookRuntime): Helper[] {
  const read = (map: bigint, flags: bigint): number => {
    if (flags & ~BPF_F_INDEX_MASK) return -Errno.EINVAL;
    const m = rt.views.get(u32(map));
    if (!(m instanceof SlotArray) || m.type !== MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY) return -Errno.EINVAL;
    const index = flags === BPF_F_CURRENT_CPU ? rt.cpu : Number(flags);
    if (index >= m.maxEntries) return -Errno.E2BIG;
    if (m.slotValue(index) === 0) return -Errno.ENOENT;
    return index === rt.cpu ? 0 : -Errno.EINVAL;
  };
  return [
    { id: 22, name: 'bpf_perf_event_read', fn: (map, flags) => BigInt.asUintN(64, BigInt(read(map, flags))) },
    {
      id: 55,
      name: 'bpf_perf_event_read_value',
      fn: (map, flags, buf, size) => {
        const err = u32(size) !== PERF_EVENT_VALUE_SIZE ? -Errno.EINVAL : read(map, flags);
        // on success the counter, enabled and running times (all 0 here); on failure memset(buf, 0, size)
        rt.kernel.memory.u8.fill(0, u32(buf), u32(buf) + (err ? u32(size) : PERF_EVENT_VALUE_SIZE));
        return err ? neg(-err) : 0n;
      },
    },
  ];
}
