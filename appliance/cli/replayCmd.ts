import cliProgress from 'cli-progress';
import type { EngineName } from '../../vm/engine.js';
import { parseSet } from '../config/parseSet.js';
import { readRouteTable } from '../config/routes.js';
import { checkOutPath } from './outPath.js';
import { configPaths, readMapInit } from '../datapath/mapInit.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { UsageError } from './usageError.js';
import { type ReplayOptions, type ReplaySummary, replay } from '../datapath/replay.js';

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
}

/**
 * fromConfig fills the flags a command line did not give from a config: the program (the one
 * --config-program names, else the first source's, else the first), its captures, and the
 * global settings. What the command line gives wins.
 */
function fromConfig(a: ReplayArgs): { args: ReplayArgs; inline?: ReplayOptions['mapInitMore'] } {
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
  };
  const maps = Object.fromEntries(Object.entries(p.maps ?? {}).map(([n, m]) => [n, m.entries.map((e) => [e.key, e.value] as const)]));
  return {
    args,
    inline:
      p.maps || p.prog_array ? { init: { maps, prog_array: p.prog_array }, where: a.config!, paths: configPaths(a.config!, i) } : undefined,
  };
}

/** replayOptions turns flags into ReplayOptions (files read, knobs parsed). */
export function replayOptions(given: ReplayArgs): ReplayOptions {
  const { args: a, inline } = given.config ? fromConfig(given) : { args: given, inline: undefined };
  if (!a.obj) throw new UsageError('replay needs --obj OBJ (or a --config with programs)');
  if (!a.captures.length) throw new UsageError('replay needs captures (or a --config with sources)');
  const set: Record<string, bigint> = {};
  for (const s of a.set ?? []) {
    const [k, v] = parseSet(s);
    set[k] = v;
  }
  checkOutPath('--out', a.out);
  checkOutPath('--out-pass', a.outPass);
  checkOutPath('--out-drop', a.outDrop);
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
  };
}

/** runReplay runs the replay with a progress bar on a terminal and prints the summary. */
export async function runReplay(a: ReplayArgs): Promise<ReplaySummary> {
  const o = replayOptions(a);
  const tty = a.progress ?? (process.stderr.isTTY && !a.json);
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: ' {bar} {percentage}% | {packets} packets | {rate} Mpps | ETA {eta_formatted}',
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
    process.stdout.write(JSON.stringify(s) + '\n');
  } else {
    for (const w of s.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(summaryText(s));
  }
  return s;
}

/** summaryText: the human summary (packets, bytes, verdicts, per-CPU counts, time, rate). */
export function summaryText(s: ReplaySummary): string {
  const lines = [
    `${s.type} program ${s.program}: ${s.packets} packets, ${s.bytes} bytes in ${s.seconds.toFixed(3)} s (${s.mpps.toFixed(3)} Mpps)`,
    `verdicts: ${
      Object.entries(s.verdict_names)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
    `return values: ${
      Object.entries(s.verdicts)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ') || 'none'
    }`,
    `per CPU: ${s.per_cpu.map((n, i) => `cpu${i} ${n}`).join(', ')}`,
  ];
  if (s.errors) lines.push(`program faults: ${s.errors} (handled as aborted runs)`);
  if (s.skipped) lines.push(`not run: ${s.skipped}`);
  for (const [name, entries] of Object.entries(s.maps)) {
    const keys = Object.keys(entries);
    lines.push(
      `map ${name}: ${keys.length} entr${keys.length === 1 ? 'y' : 'ies'}${keys.length > 8 ? ' (first 8; --json has them all)' : ''}`,
    );
    for (const k of keys.slice(0, 8)) {
      const v = entries[k];
      lines.push(`  key ${k}  value ${typeof v === 'string' ? v : `${sumWords(v)} (summed over ${v.length} CPUs)`}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** sumWords adds per-CPU values as little-endian u64 words (counters), for the text summary. */
function sumWords(values: readonly string[]): string {
  const sum = Buffer.alloc(values[0].length / 2);
  if (sum.length % 8) return values.join(' ');
  for (const v of values) {
    const b = Buffer.from(v, 'hex');
    for (let o = 0; o < b.length; o += 8) sum.writeBigUInt64LE(BigInt.asUintN(64, sum.readBigUInt64LE(o) + b.readBigUInt64LE(o)), o);
  }
  return sum.toString('hex');
}
