import { cpus } from 'node:os';
import { checkOutPath } from './outPath.js';
import type { EngineName } from '../../vm/engine.js';
import { parseSet } from '../config/parseSet.js';
import { loadForReplay } from '../datapath/load.js';
import { applyMapInit, readMapInit } from '../datapath/mapInit.js';
import { mapsJson } from '../datapath/mapsJson.js';
import { LiveBridge, type LivePair, type LiveSummary } from '../live/bridge.js';
import { IFACE_COUNTERS } from '../live/counters.js';
import type { Offloads, OnError } from '../live/liveProtocol.js';
import { summaryText } from './replayCmd.js';
import { toJson } from '../../maps/typeDesc.js';
import { UsageError } from './usageError.js';

/** LiveArgs: `bpfbox live`'s parsed flags. */
export interface LiveArgs {
  dev: string[];
  peer: string[];
  obj?: string;
  prog?: string;
  type?: string;
  workers?: number;
  offloads?: Offloads;
  onError?: OnError;
  out?: string;
  duration?: number;
  mapInit?: string;
  set?: string[];
  json?: boolean;
  engine?: EngineName;
}

/** pairsOf: --dev and --peer, paired in the order given; a --dev left without a --peer is a tap (and a redirect target). */
export function pairsOf(dev: readonly string[], peer: readonly string[]): LivePair[] {
  if (!dev.length) throw new UsageError('live needs --dev IF (and --peer IF2 for a bridge)');
  if (peer.length > dev.length) throw new UsageError(`live: ${peer.length} --peer but ${dev.length} --dev: each --peer pairs with a --dev`);
  return dev.map((d, i) => ({ dev: d, peer: peer[i] }));
}

/**
 * runLive runs a live bridge (or tap) in the foreground until SIGINT / SIGTERM or --duration,
 * with a status line on a terminal, then prints replay's summary and the interfaces' counters.
 * Exit code 1 when a worker failed on the way (the summary says how the on-error policy
 * handled its traffic).
 */
export async function runLive(a: LiveArgs): Promise<LiveSummary> {
  if (!a.obj) throw new UsageError('live needs --obj OBJ');
  checkOutPath('--out', a.out);
  const pairs = pairsOf(a.dev, a.peer);
  if (a.duration !== undefined && !(a.duration > 0)) throw new UsageError(`--duration ${a.duration}: expected seconds > 0`);
  const workers = Math.max(1, a.workers ?? cpus().length);
  const set: Record<string, bigint> = {};
  for (const s of a.set ?? []) {
    const [k, v] = parseSet(s);
    set[k] = v;
  }
  const { kernel, loaded, prog } = loadForReplay({ obj: a.obj, prog: a.prog, type: a.type, ncpus: workers, set });
  try {
    if (a.mapInit) applyMapInit(kernel, readMapInit(a.mapInit), loaded.maps, loaded.programs, a.mapInit);
    const say = (l: string) => process.stderr.write(`bpfbox live: ${l}\n`);
    const bridge = await LiveBridge.start({
      kernel,
      prog,
      pairs,
      workers,
      offloads: a.offloads,
      onError: a.onError,
      out: a.out,
      engine: a.engine,
      log: say,
      warn: (l) => process.stderr.write(`warning: ${l}\n`),
    });
    const tty = process.stderr.isTTY && !a.json;
    // also the line a script waits for: the sockets are open
    say(
      `${prog.name} on ${pairs.map((p) => (p.peer ? `${p.dev} <-> ${p.peer}` : `${p.dev} (tap)`)).join(', ')}, ${workers} worker(s); Ctrl-C stops`,
    );
    const status = tty ? setInterval(statusLine(bridge), 1000) : undefined;
    let fatal: unknown;
    await new Promise<void>((resolve) => {
      const t = a.duration ? setTimeout(resolve, a.duration * 1000) : undefined;
      const stop = () => (clearTimeout(t), resolve());
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      bridge.done.catch((e) => ((fatal = e), stop()));
    });
    if (status) clearInterval(status);
    if (tty) process.stderr.write('\n');
    const s = await bridge.stop();
    s.maps = mapsJson(kernel, loaded.maps);
    s.max_rss_mb = Math.round(process.resourceUsage().maxRSS / 1024);
    if (a.json) process.stdout.write(toJson(s) + '\n');
    else process.stdout.write(liveText(s));
    if (fatal) throw fatal;
    if (s.worker_failures) process.exitCode = 1;
    return s;
  } finally {
    loaded.close();
  }
}

/** statusLine: a function that redraws the terminal's status line: frames per second by verdict, and losses. */
function statusLine(b: LiveBridge): () => void {
  let last = b.summary();
  return () => {
    const s = b.summary();
    const dt = Math.max(1e-3, s.seconds - last.seconds);
    const rate = (n: number) => `${((n / dt) | 0).toLocaleString('en-US')}/s`;
    const parts = Object.entries(s.verdict_names).map(([k, v]) => `${k} ${rate(v - (last.verdict_names[k] ?? 0))}`);
    const sum = (x: LiveSummary, k: 'kernel_drops' | 'send_errors') => Object.values(x.interfaces).reduce((n, f) => n + f[k], 0);
    const drops = sum(s, 'kernel_drops');
    const errs = sum(s, 'send_errors');
    process.stderr.write(
      `\r\x1b[K${rate(s.packets - last.packets)} run | ${parts.join(' ') || 'no traffic'} | kernel drops ${drops} | send errors ${errs}`,
    );
    last = s;
  };
}

/** liveText: replay's summary, then each interface's non-zero counters. */
export function liveText(s: LiveSummary): string {
  const lines = [summaryText(s).trimEnd()];
  for (const [name, c] of Object.entries(s.interfaces)) {
    const nz = (Object.keys(IFACE_COUNTERS) as (keyof typeof IFACE_COUNTERS)[]).filter((k) => c[k]).map((k) => `${k} ${c[k]}`);
    lines.push(`${name}: ${nz.join(', ') || 'no frames'}`);
  }
  if (s.worker_failures)
    lines.push(
      `worker failures: ${s.worker_failures} (on-error ${s.on_error}); frames lost in a failed worker's batch: ${s.lost_on_failure}`,
    );
  return lines.join('\n') + '\n';
}
