import { testRun } from '../../hooks/testRun.js';
import { Errno, fail } from '../../uapi/errno.js';
import type { Kernel } from '../kernel.js';
import type { Handler } from '../process.js';
import { MapType } from '../../uapi/mapType.js';
import type { MapObject, ProgObject } from '../objects.js';

/** reachableMaps: a program's maps and those of every program its prog arrays hold. */
function reachableMaps(k: Kernel, prog: ProgObject, seen = new Set<ProgObject>()): Set<MapObject> {
  const out = new Set<MapObject>();
  if (seen.has(prog)) return out;
  seen.add(prog);
  for (const m of prog.maps) {
    out.add(m);
    if (m.spec.type !== MapType.BPF_MAP_TYPE_PROG_ARRAY) continue;
    for (const held of m.slots.values()) if (held.kind === 'prog') for (const x of reachableMaps(k, held, seen)) out.add(x);
  }
  return out;
}

/** BPF_F_TEST_RUN_ON_CPU: run on the CPU named in `cpu`. */
const BPF_F_TEST_RUN_ON_CPU = 1;

/** testRunCommands: BPF_PROG_TEST_RUN, on the kernel's runtime for the chosen CPU. */
export const testRunCommands: { BPF_PROG_TEST_RUN: Handler<'BPF_PROG_TEST_RUN'> } = {
  BPF_PROG_TEST_RUN(k, p, a) {
    const prog = p.progOf(a.prog_fd);
    if ((a.flags ?? 0) & ~BPF_F_TEST_RUN_ON_CPU) fail(Errno.EINVAL);
    const cpu = (a.flags ?? 0) & BPF_F_TEST_RUN_ON_CPU ? (a.cpu ?? 0) : 0;
    if (cpu >= k.ncpus) fail(Errno.ENXIO);
    const r = testRun(k.runtime(cpu), prog, { data: a.data_in, ctx: a.ctx_in, repeat: a.repeat });
    // the program changed its maps behind the door's back: tell the owner (pins are written)
    for (const m of reachableMaps(k, prog)) k.wrote(m);
    a.retval = r.retval;
    a.duration = r.duration;
    a.data_size_out = r.data.length;
    a.ctx_size_out = r.ctx.length;
    let room = true;
    if (a.data_out) {
      a.data_out.set(r.data.subarray(0, a.data_out.length));
      room &&= a.data_out.length >= r.data.length;
    }
    if (a.ctx_out) {
      a.ctx_out.set(r.ctx.subarray(0, a.ctx_out.length));
      room &&= a.ctx_out.length >= r.ctx.length;
    }
    return room ? 0 : -Errno.ENOSPC;
  },
};
