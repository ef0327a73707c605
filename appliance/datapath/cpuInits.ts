import { hostTask } from '../../kernel/hostTask.js';
import { cpuRegions } from '../../hooks/runtime.js';
import { xdpBatchable } from '../../hooks/xdpBatch.js';
import { ProgType } from '../../uapi/progType.js';
import { DEFAULT_ENGINE } from '../../vm/engines.js';
import type { PipelineOptions } from './pipeline.js';
import { exportProgs } from './progTransfer.js';
import { eventMaps } from './events.js';
import type { WorkerInit } from './protocol.js';

/**
 * cpuInits: what each of `n` workers (emulated CPUs) starts from, for a replay or a live
 * bridge alike: its regions of the shared memory, the programs, the runtime's settings, and
 * whether the program runs in batches (`batch`: a JIT-compiled XDP program that is
 * xdpBatchable, not traced), decided here once for all of them.
 */
export function cpuInits(o: PipelineOptions, n: number): { inits: WorkerInit[]; batch: boolean } {
  const mem = o.kernel.memory;
  const progs = exportProgs(o.kernel);
  const engine = o.engine ?? DEFAULT_ENGINE;
  const batch = runsInBatches(o);
  const maps = eventMaps(o.prog);
  const events = maps.length ? { maps, keep: o.onEvents !== undefined } : undefined;
  // one read of the host's cgroup and pid namespace for every worker (they all run in this process)
  const task = hostTask();
  const regions = Array.from({ length: n }, (_, w) => cpuRegions(mem, w));
  const inits = regions.map((r, w) => ({
    space: mem.snapshot(),
    cpu: w,
    regions: r,
    progs,
    entry: o.prog.id,
    ifindex: o.ifindex ?? 1,
    deterministic: o.deterministic ?? false,
    seed: o.seed ?? 1,
    trace: o.trace !== undefined,
    routes: o.routes,
    neighbours: o.neighbours,
    devices: o.devices,
    task,
    engine,
    batch,
    events,
  }));
  return { inits, batch };
}

/** runsInBatches: whether workers run this program in batches: a JIT-compiled XDP program that is xdpBatchable, not traced. */
export function runsInBatches(o: Pick<PipelineOptions, 'prog' | 'engine' | 'trace' | 'deterministic'>): boolean {
  return (
    (o.engine ?? DEFAULT_ENGINE) === 'jit' &&
    o.prog.type === ProgType.BPF_PROG_TYPE_XDP &&
    !o.trace &&
    xdpBatchable(o.prog.program, o.deterministic ?? false)
  );
}
