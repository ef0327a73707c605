import { statSync } from 'node:fs';
import { cpus } from 'node:os';
import { isStreamPath } from '../../pcaps/streamIo.js';
import { loadForReplay } from './load.js';
import { type InitPaths, applyMapInit, type MapInit } from './mapInit.js';
import { mapsJson } from './mapsJson.js';
import { pinReplayMaps } from '../bpffs/replayPins.js';
import { eventTyper } from './eventTypes.js';
import { EventsFile } from './sinks/eventsFile.js';
import { StartedWorkers } from './pool.js';
import { Pipeline, type PipelineOptions, type ReplaySummary, type RunOptions } from './pipeline.js';

export type { ReplaySummary } from './pipeline.js';

/** ReplayOptions: `bpfbox replay`'s flags: the object and captures, and what the pipeline and a pass take. */
export interface ReplayOptions
  extends Omit<PipelineOptions, 'kernel' | 'prog' | 'early'>,
    Pick<RunOptions, 'out' | 'outPass' | 'outDrop' | 'progress' | 'preload'> {
  readonly captures: readonly string[];
  readonly obj: string;
  readonly prog?: string;
  readonly type?: string;
  readonly set?: Record<string, bigint>;
  readonly mapInit?: { init: MapInit; where: string; paths?: InitPaths };
  /** More entries after mapInit (a config's inline maps after its map_init file). */
  readonly mapInitMore?: { init: MapInit; where: string; paths?: InitPaths };
  /** Pin every map, as the run left it, under this bpffs directory of the state directory `bpffs`. */
  readonly pinmaps?: { readonly dir: string; readonly bpffs?: string };
  /** Write the program's ring buffer and perf events here as JSON lines (`-`: standard output). */
  readonly events?: string;
}

/**
 * INLINE_BYTES: captures of at most this many bytes in all (regular files) run their emulated
 * CPUs on the main thread (InlinePool) unless ReplayOptions.inline says otherwise; the
 * environment's BPFBOX_INLINE_BYTES changes it (0: always worker threads). Starting a worker
 * thread costs about what running a few hundred thousand packets does; 4 MiB is some thousands.
 */
export const INLINE_BYTES = 4 << 20;

/** runsInline: the captures are regular files, together no bigger than INLINE_BYTES (or BPFBOX_INLINE_BYTES). */
export function runsInline(captures: readonly string[]): boolean {
  const env = process.env.BPFBOX_INLINE_BYTES;
  const limit = env !== undefined && /^\d+$/.test(env) ? Number(env) : INLINE_BYTES;
  let total = 0;
  for (const c of captures) {
    if (isStreamPath(c)) return false;
    try {
      const st = statSync(c);
      if (!st.isFile()) return false;
      total += st.size;
    } catch {
      return false; // the source says what is wrong with it, as it does for workers
    }
  }
  return total <= limit;
}

/**
 * replay runs every packet of the captures through the program on `workers` threads (see
 * Pipeline) and returns the summary with the maps as the run left them.
 */
export async function replay(o: ReplayOptions): Promise<ReplaySummary> {
  const workers = Math.max(1, o.workers ?? cpus().length);
  const inline = o.inline ?? runsInline(o.captures);
  // the worker threads start now, and load their code while this thread loads the object and verifies it
  // (up to one a core: more is rare, and a count the address space cannot take is refused by the pipeline first)
  const early = !inline && workers <= cpus().length ? new StartedWorkers(workers) : undefined;
  try {
    const { kernel, loaded, prog } = loadForReplay({ obj: o.obj, prog: o.prog, type: o.type, ncpus: workers, set: o.set });
    try {
      for (const m of [o.mapInit, o.mapInitMore]) if (m) applyMapInit(kernel, m.init, loaded.maps, loaded.programs, m.where, m.paths);
      const events = o.events === undefined ? undefined : new EventsFile(o.events, eventTyper(o.obj));
      const p = new Pipeline({ ...o, kernel, prog, workers, early, inline, onEvents: events ? (r, m) => events.write(r, m) : undefined });
      try {
        await p.run(o.captures, o);
      } finally {
        await p.close();
        events?.close();
      }
      p.summary.maps = mapsJson(kernel, loaded.maps);
      if (o.pinmaps) p.summary.pinned_maps = pinReplayMaps(kernel, loaded.maps, o.pinmaps.dir, o.pinmaps.bpffs);
      p.summary.max_rss_mb = Math.round(process.resourceUsage().maxRSS / 1024);
      if (inline) p.summary.inline = true;
      return p.summary;
    } finally {
      loaded.close();
    }
  } finally {
    // workers no pipeline took (the load or the map init failed) stop here
    await early?.stop();
  }
}
