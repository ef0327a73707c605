import { cpus } from 'node:os';
import type { Device, Neighbour, Route } from '../../hooks/helpers/fib.js';
import type { Verdict } from '../../hooks/verdict.js';
import { loadForReplay } from './load.js';
import { type InitPaths, applyMapInit, type MapInit } from './mapInit.js';
import { mapsJson } from './mapsJson.js';
import { Pipeline, type ReplaySummary } from './pipeline.js';

export type { ReplaySummary } from './pipeline.js';

/** ReplayOptions: `bpfbox replay`'s flags (and the config's replay section). */
export interface ReplayOptions {
  readonly captures: readonly string[];
  readonly obj: string;
  readonly prog?: string;
  readonly type?: string;
  /** Worker threads (emulated CPUs); default: the number of cores. */
  readonly workers?: number;
  readonly mapInit?: { init: MapInit; where: string; paths?: InitPaths };
  /** More entries after mapInit (a config's inline maps after its map_init file). */
  readonly mapInitMore?: { init: MapInit; where: string; paths?: InitPaths };
  readonly set?: Record<string, bigint>;
  readonly out?: string;
  readonly outPass?: string;
  readonly outDrop?: string;
  readonly deterministic?: boolean;
  readonly seed?: number;
  readonly ifindex?: number;
  readonly routes?: readonly Route[];
  readonly neighbours?: readonly Neighbour[];
  readonly devices?: readonly Device[];
  readonly trace?: (line: string) => void;
  readonly warn?: (line: string) => void;
  /** Called after every window of packets (progress bars). */
  readonly progress?: (p: { packets: number; fileBytes: number; totalBytes: number }) => void;
  /** Called for every packet, in capture order, after its verdict (metrics). */
  readonly onPacket?: (cpu: number, len: number, v: Verdict, faulted: boolean) => void;
}

/**
 * replay runs every packet of the captures through the program on `workers` threads (see
 * Pipeline) and returns the summary with the maps as the run left them.
 */
export async function replay(o: ReplayOptions): Promise<ReplaySummary> {
  const workers = Math.max(1, o.workers ?? cpus().length);
  const { kernel, loaded, prog } = loadForReplay({ obj: o.obj, prog: o.prog, type: o.type, ncpus: workers, set: o.set, routes: o.routes, neighbours: o.neighbours });
  try {
    for (const m of [o.mapInit, o.mapInitMore]) if (m) applyMapInit(kernel, m.init, loaded.maps, loaded.programs, m.where, m.paths);
    const p = new Pipeline({ ...o, kernel, prog, workers });
    try {
      await p.run(o.captures, o);
    } finally {
      await p.close();
    }
    p.summary.maps = mapsJson(kernel, loaded.maps);
    p.summary.max_rss_mb = Math.round(process.resourceUsage().maxRSS / 1024);
    return p.summary;
  } finally {
    loaded.close();
  }
}
