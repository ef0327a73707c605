import { SlotArray } from '../../maps/slotArray.js';
import { Errno } from '../../uapi/errno.js';
import { MapType } from '../../uapi/mapType.js';
import { type Helper, negErrno as neg, argU32 as u32 } from '../../vm/helpers.js';
import { defaultTask } from '../currentTask.js';
import type { HookRuntime } from '../runtime.js';

/**
 * cgroupHelpers: the helpers that ask which cgroup v2 the calling task (or the packet's
 * socket) is in, against RuntimeOptions.task's ancestry (root first; default: the root cgroup,
 * id 1, level 0):
 *
 * | helper | kernel (kernel/bpf/helpers.c, kernel/trace/bpf_trace.c, net/core/filter.c) |
 * |---|---|
 * | bpf_get_current_cgroup_id (80) | cgroup_id(task_dfl_cgroup(current)) |
 * | bpf_get_current_ancestor_cgroup_id (123) | the ancestor at `level` (0 the root), 0 past the task's own level |
 * | bpf_current_task_under_cgroup (37) | -E2BIG past max_entries, -EAGAIN on an empty slot, else task_under_cgroup_hierarchy: 1 or 0 |
 * | bpf_skb_under_cgroup (33) | -ENOENT without a full socket, then as above for the socket's cgroup |
 *
 * A BPF_MAP_TYPE_CGROUP_ARRAY slot holds the low 32 bits of a cgroup's id (the kernel holds a
 * struct cgroup *): the cgroup "is an ancestor" when that id is on the task's path. The socket
 * test-run gives an skb is allocated by the calling task (sk_alloc -> cgroup_sk_alloc), so it is
 * in the task's cgroup; packets without a socket (replayed, received) answer -ENOENT.
 */
export function cgroupHelpers(rt: HookRuntime): Helper[] {
  const ids = (rt.options.task ?? defaultTask()).cgroupIds;
  const underCgroup = (map: bigint, idx: bigint): bigint => {
    const m = rt.views.get(u32(map));
    if (!(m instanceof SlotArray) || m.type !== MapType.BPF_MAP_TYPE_CGROUP_ARRAY) return neg(Errno.EINVAL);
    const i = u32(idx);
    if (i >= m.maxEntries) return neg(Errno.E2BIG);
    const slot = m.slotValue(i);
    if (slot === 0) return neg(Errno.EAGAIN);
    return ids.some((id) => Number(id & 0xffffffffn) === slot) ? 1n : 0n;
  };
  return [
    { id: 80, name: 'bpf_get_current_cgroup_id', fn: () => ids[ids.length - 1] },
    {
      id: 123,
      name: 'bpf_get_current_ancestor_cgroup_id',
      // cgroup_ancestor: the level is an int; a negative or deeper level has no ancestor
      fn: (level) => {
        const l = Number(BigInt.asIntN(32, level));
        return l >= 0 && l < ids.length ? ids[l] : 0n;
      },
    },
    { id: 37, name: 'bpf_current_task_under_cgroup', fn: (map, idx) => underCgroup(map, idx) },
    {
      id: 33,
      name: 'bpf_skb_under_cgroup',
      fn: (_skb, map, idx) => {
        const c = rt.current;
        if (c.kind !== 'skb' || !c.pkt.sock) return neg(Errno.ENOENT);
        return underCgroup(map, idx);
      },
    },
  ];
}
