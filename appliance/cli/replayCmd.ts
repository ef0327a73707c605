import type { EngineName } from '../../vm/engine.js';
import { parseSet } from '../config/parseSet.js';
import { readRouteTable } from '../config/routes.js';
import { checkOutPath } from './outPath.js';
import { configPaths, readMapInit } from '../datapath/mapInit.js';
import { UsageError } from './usageError.js';
import { BPFFS_ROOT, checkBpffsPath } from '../../kernel/pins.js';
import { STDIO, isStreamPath } from '../../pcaps/streamIo.js';
import { type ReplayOptions, type ReplaySummary, replay } from '../datapath/replay.js';
import { keyText, valueText } from '../datapath/mapElement.js';
import { toJson } from '../../maps/typeDesc.js';
import { eventSummary } from '../datapath/events.js';

/** ReplayArgs: `bpfbox replay`'s parsed flags. */
export interface ReplayArgs {
  captures: string[];
  obj?: string;
  /** A config file: its first source (or the program --config-program names) gives the rest. */
  config?: string;
  configProgram?: string;
  prog?: string;
  type?: string;
  workers?: number;
  mapInit?: string;
  set?: string[];
  out?: string;
  outPass?: string;
  outDrop?: string;
  deterministic?: boolean;
  seed?: number;
  routes?: string;
  json?: boolean;
  trace?: boolean;
  progress?: boolean;
  engine?: EngineName;
  preload?: boolean;
  /** `--pinmaps DIR`: pin the maps as the run left them (a bpffs directory of the state directory `--bpffs`). */
  pinmaps?: string;
  bpffs?: string;
  /** Ring buffer and perf events as JSON lines to this file (`-`: standard output). */
  events?: string;
}

/**
 * fromConfig fills the flags a command line did not give from a config: the program (the one
 * --config-program names, else the first source's, else the first), its captures, and the
 * global settings. What the command line gives wins.
 */
async function fromConfig(a: ReplayArgs): Promise<{ args: ReplayArgs; inline?: ReplayOptions['mapInitMore'] }> {
  // the config module (and the YAML parser it brings) loads only for --config
  const { ConfigError, loadConfig } = await import('../config/config.js');
  const cfg = loadConfig(a.config!);
  const name = a.configProgram ?? cfg.sources?.[0]?.program ?? cfg.programs[0].name;
  const i = cfg.programs.findIndex((p) => p.name === name);
  if (i < 0) throw new ConfigError(`${a.config}: no program named ${name}`);
  const p = cfg.programs[i];
  const captures = a.captures.length ? a.captures : (cfg.sources ?? []).filter((s) => s.program === name).flatMap((s) => s.captures);
  const set = [...Object.entries(p.set ?? {}).map(([k, v]) => `${k}=${v}`), ...(a.set ?? [])];
  const args: ReplayArgs = {
    ...a,
    captures,
    obj: a.obj ?? p.obj,
    prog: a.prog ?? p.prog,
    type: a.type ?? p.type,
    workers: a.workers ?? cfg.workers,
    mapInit: a.mapInit ?? p.map_init,
    set,
    out: a.out ?? p.out,
    outPass: a.outPass ?? p.out_pass,
    outDrop: a.outDrop ?? p.out_drop,
    deterministic: a.deterministic || cfg.deterministic,
    seed: a.seed ?? cfg.seed,
    routes: a.routes ?? cfg.routes,
    trace: a.trace || cfg.trace,
    engine: a.engine ?? cfg.engine,
    pinmaps: a.pinmaps ?? p.pinmaps,
    bpffs: a.bpffs ?? cfg.bpffs,
    events: a.events ?? cfg.events,
  };
  const maps = Object.fromEntries(Object.entries(p.maps ?? {}).map(([n, m]) => [n, m.entries.map((e) => [e.key, e.value] as const)]));
  return {
    args,
    inline:
      p.maps || p.prog_array ? { init: { maps, prog_array: p.prog_array }, where: a.config!, paths: configPaths(a.config!, i) } : undefined,
  };
}

/** replayOptions turns flags into ReplayOptions (files read, knobs parsed). */
export async function replayOptions(given: ReplayArgs): Promise<ReplayOptions> {
  const { args: a, inline } = given.config ? await fromConfig(given) : { args: given, inline: undefined };
  if (!a.obj) throw new UsageError('replay needs --obj OBJ (or a --config with programs)');
  if (!a.captures.length) throw new UsageError('replay needs captures (or a --config with sources)');
  const set: Record<string, bigint> = {};
  for (const s of a.set ?? []) {
    const [k, v] = parseSet(s);
    set[k] = v;
  }
  if (a.pinmaps !== undefined) {
    try {
      checkBpffsPath(a.pinmaps);
    } catch (e) {
      throw new UsageError(`--pinmaps ${a.pinmaps}: expected a directory under ${BPFFS_ROOT} (the state directory's bpffs)`, { cause: e });
    }
  }
  checkOutPath('--out', a.out);
  checkOutPath('--events', a.events);
  checkOutPath('--out-pass', a.outPass);
  checkOutPath('--out-drop', a.outDrop);
  if (a.events === STDIO && [a.out, a.outPass, a.outDrop].includes(STDIO))
    throw new UsageError('--events -: standard output already carries the capture (--out -); give --events a file');
  const rt = a.routes ? readRouteTable(a.routes) : undefined;
  return {
    captures: a.captures,
    obj: a.obj,
    prog: a.prog,
    mapInitMore: inline,
    type: a.type,
    workers: a.workers,
    set,
    mapInit: a.mapInit ? { init: readMapInit(a.mapInit), where: a.mapInit } : undefined,
    out: a.out,
    outPass: a.outPass,
    outDrop: a.outDrop,
    deterministic: a.deterministic,
    seed: a.seed,
    routes: rt?.routes,
    neighbours: rt?.neighbours,
    devices: rt?.devices,
    trace: a.trace ? (l) => process.stderr.write(`${l}\n`) : undefined,
    engine: a.engine,
    preload: a.preload,
    pinmaps: a.pinmaps === undefined ? undefined : { dir: a.pinmaps, bpffs: a.bpffs },
    events: a.events,
  };
}

/** runReplay runs the replay with a progress bar on a terminal and prints the summary. */
export async function runReplay(a: ReplayArgs): Promise<ReplaySummary> {
  const o = await replayOptions(a);
  // with a capture on standard output, stdout is the capture alone: the summary goes to stderr
  const toStdout = [o.out, o.outPass, o.outDrop, o.events].includes(STDIO);
  const say = (text: string) => (toStdout ? process.stderr : process.stdout).write(text);
  // a stream (standard input, a FIFO) has no size: the bar shows packets and rate, no total
  const streamed = o.captures.some(isStreamPath);
  const tty = a.progress ?? (process.stderr.isTTY && !a.json);
  // the progress bar's module loads only for a terminal
  const cliProgress = tty ? (await import('cli-progress')).default : undefined;
  const bar = cliProgress
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: streamed
            ? ' {packets} packets | {rate} Mpps'
            : ' {bar} {percentage}% | {packets} packets | {rate} Mpps | ETA {eta_formatted}',
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const t0 = Date.now();
  bar?.start(1, 0, { packets: 0, rate: '0.00' });
  const warnings: string[] = [];
  let s: ReplaySummary;
  try {
    s = await replay({
      ...o,
      warn: (w) => warnings.push(w),
      progress: ({ packets, fileBytes, totalBytes }) => {
        bar?.setTotal(totalBytes || 1);
        bar?.update(fileBytes, { packets, rate: (packets / Math.max(1, Date.now() - t0) / 1000).toFixed(2) });
      },
    });
  } finally {
    bar?.stop();
  }
  if (a.json) {
    say(toJson(s) + '\n'); // toJson: typed map values are bigints (u64s print exactly, as bpftool prints them)
  } else {
    for (const w of s.warnings) process.stderr.write(`warning: ${w}\n`);
    // the whole command's time (process start to now), beside the pass's own
    say(summaryText(s, process.uptime()));
  }
  return s;
}

/**
 * summaryText: the human summary: packets and bytes (a socket filter's: bytes kept), the time
 * the command took and the data path's own rate (the workers' busy time), the verdicts, the
 * return values where they say more than the verdicts, per-CPU counts, and the maps' entries in
 * map order (as GET_NEXT_KEY walks them: an array's by index), typed where BTF describes the map
 * (as `map dump` shows them), naming what is left out.
 */
/** SHORT: below this many packets the first runs (compiling, cold caches) decide the rate, so the summary gives time per packet. */
const SHORT = 100_000;

export function summaryText(s: ReplaySummary, wholeSeconds?: number): string {
  const busy = s.busy_seconds.reduce((a, b) => a + b, 0);
  const bytes = s.type === 'socket' ? 'bytes kept' : 'bytes';
  const time =
    wholeSeconds !== undefined
      ? `in ${wholeSeconds.toFixed(3)} s (the whole command; the pass ${s.seconds.toFixed(3)} s)`
      : `in ${s.seconds.toFixed(3)} s (${s.mpps.toFixed(3)} Mpps)`;
  const lines = [
    `${s.type} program ${s.program}: ${s.packets} packets, ${s.bytes} ${bytes} ${time}`,
    ...(busy > 0 && s.packets > 0
      ? [
          s.packets >= SHORT
            ? `data path: ${(s.packets / busy / 1e6).toFixed(2)} Mpps per worker busy second (${(busy * 1e3).toFixed(1)} ms of program runs)`
            : `data path: ${(busy * 1e3).toFixed(1)} ms of program runs, ${((busy / s.packets) * 1e6).toFixed(2)} us a packet (a capture this short measures warm-up: docs/BENCHMARKS.md has steady rates)`,
        ]
      : []),
    `verdicts: ${
      Object.entries(s.verdict_names)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
  ];
  if (returnValuesSayMore(s)) {
    // the most frequent first, 16 at most
    const values = Object.entries(s.verdicts).sort((a, b) => b[1] - a[1]);
    const more = values.length > 16 ? ` (and ${values.length - 16} more values: --json has them all)` : '';
    lines.push(
      `return values: ${
        values
          .slice(0, 16)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ') || 'none'
      }${more}`,
    );
  }
  lines.push(
    `per CPU: ${s.per_cpu.map((n, i) => `cpu${i} ${n}`).join(', ')}${s.inline ? ' (a short capture: the CPUs ran in turns on the main thread)' : ''}`,
  );
  if (s.pinned_maps?.length) lines.push(`maps pinned: ${s.pinned_maps.join(', ')} (bpfbox map dump pinned PATH shows them)`);
  if (s.errors) lines.push(`program faults: ${s.errors} (handled as aborted runs)`);
  if (s.skipped) lines.push(`not run: ${s.skipped}`);
  if (s.events) lines.push(eventSummary(s.events));
  for (const [name, elements] of Object.entries(s.maps)) {
    const shown = elements.slice(0, 8);
    const n = elements.length;
    lines.push(
      `map ${name}: ${n} entr${n === 1 ? 'y' : 'ies'}${
        n > 8 ? ` (the first 8 in map order; keys ${keyText(elements[8])}..${keyText(elements[n - 1])} left out: --json has them all)` : ''
      }`,
    );
    for (const e of shown) lines.push(`  key ${keyText(e)}  value ${valueText(e)}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * returnValuesSayMore: whether the return values add to the verdicts: not when each verdict
 * name stands for exactly one value that is that name's own (XDP_PASS is 2), as for XDP and tc
 * programs that return the kernel's actions; yes for values a
 * verdict name covers several of (an unknown XDP value counts as XDP_ABORTED), and for a socket
 * filter that cut packets (the lengths it kept).
 */
function returnValuesSayMore(s: ReplaySummary): boolean {
  // a socket filter's value is a length: it says more only when some packet was cut to it
  if (s.type === 'socket') return (s.verdict_names.trim ?? 0) > 0;
  const values = Object.keys(s.verdicts);
  return (
    values.length !== Object.keys(s.verdict_names).length || values.some((v) => v === 'other' || Number(v) > (s.type === 'xdp' ? 4 : 7))
  );
}
