import { TraceLog, callsTracePrintk } from './traceLog.js';
import { availableParallelism } from 'node:os';
import type { Server } from 'node:http';
import { BpfErrno, Errno } from '../../uapi/errno.js';
import { UserError } from '../../uapi/userError.js';
import type { MapObject, ProgObject } from '../../kernel/objects.js';
import type { Kernel } from '../../kernel/kernel.js';
import { type Config, ConfigError, loadConfig } from '../config/config.js';
import { parseSet } from '../config/parseSet.js';
import { serveMetrics } from './metrics/http.js';
import { type CollectedMetric, MapMetricError, counterMetric, gaugeMetric, histogramMetric } from './metrics/mapMetrics.js';
import { metricNameWarnings } from '../config/metricNames.js';
import { PipelineMetrics } from './metrics/pipelineMetrics.js';
import { readRouteTable } from '../config/routes.js';
import { loadObject } from '../datapath/load.js';
import { applyMapInit, configPaths, type MapInit, readMapInit } from '../datapath/mapInit.js';
import { Pipeline } from '../datapath/pipeline.js';
import { serve } from './serve.js';
import { checkCaptures, listenError, parseListenAddr } from './serveChecks.js';
import { Session } from './session.js';
import type { LoadedCollection } from '../../kernel/loadCollection.js';
import { strerror } from '../../uapi/errno.js';
import { Attachments, NetError, kindOf } from './attachments.js';
import { liveMetrics } from './metrics/liveMetrics.js';
import type { NetProgRef, NetRequest } from './netRequest.js';
import { displayName } from '../cli/progOutput.js';
import { pinmapsName } from '../bpffs/pinName.js';

/** ServeConfigOptions: the config file, and flags that override it. */
export interface ServeConfigOptions {
  readonly config: string;
  readonly metricsAddr?: string;
  /** State directory behind /sys/fs/bpf (overrides the config's bpffs). */
  readonly bpffs?: string;
  /** The engine (overrides the config's). */
  readonly engine?: 'interpreter' | 'jit';
  readonly log?: (line: string) => void;
}

/** Running: a service started from a config. */
export interface Running {
  readonly metricsUrl: string;
  readonly socket: string;
  /** Settles when every source that ends (mode once) has ended. */
  readonly sourcesDone: Promise<void>;
  readonly metrics: PipelineMetrics;
  /** The live interfaces (the config's, and what `bpfbox net attach` added). */
  readonly attachments: Attachments;
  stop(): Promise<void>;
}

interface LoadedProgram {
  readonly name: string;
  readonly kernel: Kernel;
  readonly loaded: LoadedCollection;
  readonly prog: ProgObject;
  pipeline?: Pipeline;
}

/**
 * serveConfig starts the appliance from a config: it loads the configured objects into this
 * process's kernel (one CPU per worker), seeds and pins what the config says, serves the
 * control plane for the CLI (as `bpfbox serve`), serves Prometheus metrics (pipeline series
 * and the exporter's map series), and ingests the configured sources: once, in a loop, or in
 * a loop at a given rate. It starts the configured live interfaces (one LiveBridge each,
 * in the service's kernel: map changes through the control socket reach their workers) and
 * answers `bpfbox net show|attach|detach`. Bad config is refused before anything runs,
 * naming the path; `stop` detaches the interfaces (offloads restored) before anything else.
 */
export async function serveConfig(o: ServeConfigOptions): Promise<Running> {
  const cfg = loadConfig(o.config);
  // mistakes refused before anything is loaded, pinned or listened on
  const metricsAddr = o.metricsAddr ?? cfg.metrics?.addr ?? '127.0.0.1:9435';
  const addrWhere =
    o.metricsAddr !== undefined ? '--metrics-addr' : cfg.metrics?.addr !== undefined ? `${o.config}: metrics.addr` : 'metrics address';
  const listen = parseListenAddr(metricsAddr, addrWhere);
  checkCaptures(cfg, o.config);
  const log = o.log ?? (() => undefined);
  if (listen.public)
    log(`warning: ${addrWhere} ${metricsAddr}: metrics listen on every interface (public: anyone who reaches this machine)`);
  for (const w of metricNameWarnings(cfg, o.config)) log(`warning: ${w}`);
  const workers = cfg.workers ?? availableParallelism();
  const rt = cfg.routes ? readRouteTable(cfg.routes) : undefined;
  const session = new Session({ bpffs: o.bpffs ?? cfg.bpffs, routes: rt, ncpus: workers }).begin();
  const programs: LoadedProgram[] = [];
  /** The pins (and pinmaps directories) this start created, removed again if it fails. */
  const created: string[] = [];
  let locked = true;
  let attachments: Attachments | undefined;
  try {
    cfg.programs.forEach((p, i) => programs.push(loadProgram(session, cfg, i, o.config, created)));
    session.finish();
    locked = false;
    const metrics = new PipelineMetrics();
    const taken = new Set(metrics.registry.getMetricsAsArray().map((m) => m.name));
    for (const m of exporterMetrics(cfg, programs, o.config, taken)) metrics.registry.registerMetric(m as never);
    attachments = new Attachments({
      kernel: session.kernel,
      workers,
      engine: o.engine ?? cfg.engine,
      routes: rt?.routes,
      neighbours: rt?.neighbours,
      devices: rt?.devices,
      log: (l) => log(`live: ${l}`),
      warn: (w) => log(`warning: ${w}`),
    });
    const live = attachments;
    await startInterfaces(cfg, programs, live, o.config);
    for (const m of liveMetrics(() => live.totals())) metrics.registry.registerMetric(m as never);
    const { server, url } = await serveMetrics(metrics.registry, metricsAddr).catch((e: unknown) => {
      throw listenError(e, addrWhere, metricsAddr);
    });
    const traces = new TraceLog();
    const control = await serve({ session, log, net: (req) => answerNet(session.kernel, live, req), traces });
    const abort = new AbortController();
    const used = new Set((cfg.sources ?? []).map((s) => s.program));
    for (const p of programs) {
      if (!used.has(p.name)) continue;
      const hooks = metrics.hooks(p.name);
      p.pipeline = new Pipeline({
        kernel: session.kernel,
        prog: p.prog,
        workers,
        deterministic: cfg.deterministic,
        seed: cfg.seed,
        routes: rt?.routes,
        neighbours: rt?.neighbours,
        devices: rt?.devices,
        // a program that prints keeps its lines for `prog tracelog` (and stderr with trace: true); the others keep running in batches
        trace:
          cfg.trace || callsTracePrintk(p.prog)
            ? (l, cpu) => {
                if (cfg.trace) process.stderr.write(`bpf_trace_printk: ${l}\n`);
                traces.push(l, cpu);
              }
            : undefined,
        warn: (w) => log(`warning: ${w}`),
        ...hooks,
        engine: o.engine ?? cfg.engine,
      });
    }
    const sourcesDone = runSources(cfg, programs, metrics, abort.signal, log);
    let stopped = false;
    return {
      metricsUrl: url,
      socket: control.socket,
      sourcesDone,
      metrics,
      attachments: live,
      async stop() {
        if (stopped) return;
        stopped = true;
        const d = (m: string) => process.env.BPFBOX_DEBUG && process.stderr.write(`stop: ${m}\n`);
        await live.stopAll();
        d('interfaces detached');
        abort.abort();
        d('aborted');
        await sourcesDone.catch(() => undefined);
        d('sources done');
        await Promise.all(programs.map((p) => p.pipeline?.close()));
        d('pipelines closed');
        await new Promise<void>((ok) => (server as Server).close(() => ok()));
        d('http closed');
        await control.stop();
        d('control stopped');
      },
    };
  } catch (e) {
    await attachments?.stopAll();
    for (const p of programs) p.loaded.close();
    // a failed start leaves no pins behind: the newest first, so that a pinmaps directory is empty when its turn comes
    session.store.locked(() => {
      for (const path of created.reverse())
        try {
          session.store.unlink(path);
        } catch (u) {
          if (!(u instanceof BpfErrno)) throw u;
        }
    });
    if (locked) session.finish();
    throw e;
  }
}

/** startInterfaces attaches the config's interfaces, in order; a failure names the entry. */
async function startInterfaces(cfg: Config, programs: readonly LoadedProgram[], live: Attachments, file: string): Promise<void> {
  for (const [i, f] of (cfg.interfaces ?? []).entries()) {
    const p = programs.find((x) => x.name === f.program)!;
    const kind = kindOf(p.prog);
    if (!kind || (kind === 'socket' && f.peer !== undefined))
      throw new ConfigError(
        `${file}: interfaces[${i}].program: ${f.program} is ${kind ? 'a socket filter: it runs only in a tap (no peer)' : `of type ${p.prog.type}: interfaces run xdp and tc programs`}`,
        { file, field: `interfaces[${i}].program` },
      );
    try {
      await live.attach({ kind, prog: p.prog, dev: f.name, peer: f.peer, offloads: f.offloads, onError: f.on_error, workers: f.workers });
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      throw new ConfigError(`${file}: interfaces[${i}] (${f.name}): ${e.message}`, { file, field: `interfaces[${i}]`, cause: e });
    }
  }
}

/** answerNet answers a `bpfbox net` request: the program named as bpftool names it, looked up in the service's kernel. */
async function answerNet(kernel: Kernel, live: Attachments, req: NetRequest): Promise<unknown> {
  switch (req.verb) {
    case 'show':
      return live.show(req.dev);
    case 'attach':
      return live.attach({ ...req, prog: progByRef(kernel, req.prog) });
    case 'detach':
      await live.detach(req.kind, req.dev);
      return null;
  }
}

/** progByRef: the service's program `ref` names (`id N`, `name NAME`, `pinned PATH`); none, or a name several have, is one line. */
function progByRef(kernel: Kernel, ref: NetProgRef): ProgObject {
  if ('pinned' in ref) {
    const fd = kernel.bpf('BPF_OBJ_GET', { pathname: ref.pinned });
    if (fd < 0) throw new NetError(`prog pinned ${ref.pinned}: ${strerror(-fd)}`);
    try {
      const obj = kernel.process.fds.get(fd)?.obj;
      if (obj?.kind !== 'prog') throw new NetError(`prog pinned ${ref.pinned}: is not a program`);
      return obj as ProgObject;
    } finally {
      kernel.close(fd);
    }
  }
  const all = [...kernel.progs.values()];
  if ('id' in ref) return kernel.progs.get(ref.id) ?? fail(`prog id ${ref.id}: no such program in the appliance`);
  const found = all.filter((p) => displayName(p) === ref.name || p.name === ref.name);
  if (found.length > 1)
    fail(`prog name ${ref.name}: ${found.length} programs have that name (ids ${found.map((p) => p.id).join(', ')}): use id`);
  return found[0] ?? fail(`prog name ${ref.name}: no such program in the appliance`);
}

const fail = (message: string): never => {
  throw new NetError(message);
};

/** loadProgram loads programs[i]: the object with its knobs, the map entries, the pins. */
function loadProgram(session: Session, cfg: Config, i: number, file: string, created: string[]): LoadedProgram {
  const p = cfg.programs[i];
  const set: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(p.set ?? {})) {
    try {
      set[k] = parseSet(`${k}=${v}`)[1];
    } catch (e) {
      throw new ConfigError(`${file}: programs[${i}].set.${k}: ${(e as Error).message}`, {
        file,
        field: `programs[${i}].set.${k}`,
        cause: e,
      });
    }
  }
  const { loaded, prog } = loadObject(session.kernel, { obj: p.obj, prog: p.prog, type: p.type, set });
  try {
    if (p.map_init) applyMapInit(session.kernel, readMapInit(p.map_init), loaded.maps, loaded.programs, p.map_init);
    const inline: MapInit = {
      maps: Object.fromEntries(Object.entries(p.maps ?? {}).map(([n, m]) => [n, m.entries.map((e) => [e.key, e.value] as const)])),
      prog_array: p.prog_array,
    };
    applyMapInit(session.kernel, inline, loaded.maps, loaded.programs, file, configPaths(file, i));
    const k = session.kernel;
    if (p.pinmaps) {
      try {
        session.store.mkdir(p.pinmaps);
        created.push(p.pinmaps);
      } catch (e) {
        if (!(e instanceof BpfErrno)) throw e;
        if (e.errno !== Errno.EEXIST)
          throw new ConfigError(`${file}: programs[${i}].pinmaps: ${p.pinmaps}: ${strerror(e.errno)}`, {
            file,
            field: `programs[${i}].pinmaps`,
            cause: e,
          });
      }
      for (const [name, fd] of loaded.maps) {
        const path = `${p.pinmaps}/${pinmapsName(name)}`;
        replaceStalePin(session, path, `${file}: programs[${i}].pinmaps`);
        const r = k.bpf('BPF_OBJ_PIN', { pathname: path, bpf_fd: fd });
        if (r >= 0) created.push(path);
        if (r < 0) {
          const cause = new BpfErrno(-r);
          throw new ConfigError(`${file}: programs[${i}].pinmaps: pin ${path}: ${cause.message}`, {
            file,
            field: `programs[${i}].pinmaps`,
            cause,
          });
        }
      }
    }
    if (p.pin) {
      const fd = loaded.programs.get(prog.name)!;
      replaceStalePin(session, p.pin, `${file}: programs[${i}].pin`);
      const r = k.bpf('BPF_OBJ_PIN', { pathname: p.pin, bpf_fd: fd });
      if (r >= 0) created.push(p.pin);
      if (r < 0) {
        const cause = new BpfErrno(-r);
        throw new ConfigError(`${file}: programs[${i}].pin: ${p.pin}: ${cause.message}`, { file, field: `programs[${i}].pin`, cause });
      }
    }
    return { name: p.name, kernel: k, loaded, prog };
  } catch (e) {
    loaded.close();
    throw e;
  }
}

/**
 * replaceStalePin: a pin left by an earlier run of the service (its owner gone) gives way to
 * the objects this run loaded; one a running bpfbox holds is an error.
 */
function replaceStalePin(session: Session, path: string, at: string): void {
  try {
    session.store.read(path);
  } catch {
    return; // no pin there
  }
  const owner = session.store.liveOwner(path);
  if (owner) throw new ConfigError(`${at}: ${path} is held by a running bpfbox (pid ${owner.pid})`);
  session.store.unlink(path);
}

/** exporterMetrics builds the map metrics, each checked against its map now (not at the first scrape), their names against `taken` (added to it). */
function exporterMetrics(cfg: Config, programs: readonly LoadedProgram[], file: string, taken: Set<string>): CollectedMetric[] {
  const out: CollectedMetric[] = [];
  const where = new Map<string, string>();
  for (const kind of ['counters', 'gauges', 'histograms'] as const) {
    (cfg.exporter?.[kind] ?? []).forEach((m, i) => {
      const at = `${file}: exporter.${kind}[${i}] (${m.name})`;
      // a name the service's own series or an earlier entry has: one line, not prom-client's throw at registration
      if (taken.has(m.name))
        throw new MapMetricError(`${at}: the name is taken (by ${where.get(m.name) ?? "the service's own series"}): choose another`);
      taken.add(m.name);
      where.set(m.name, `exporter.${kind}[${i}]`);
      const p = programs.find((x) => x.name === (m.program ?? programs[0].name))!;
      const fd = p.loaded.maps.get(m.map) ?? [...p.loaded.maps].find(([n]) => n.endsWith(`.${m.map}`))?.[1];
      if (fd === undefined)
        throw new MapMetricError(`${at}: program ${p.name} has no map ${m.map} (it has ${[...p.loaded.maps.keys()].join(', ')})`);
      const h = { kernel: p.kernel, fd, obj: p.kernel.process.fds.get(fd)!.obj as MapObject };
      out.push(
        kind === 'counters' ? counterMetric(at, h, m) : kind === 'gauges' ? gaugeMetric(at, h, m) : histogramMetric(at, h, m as never),
      );
    });
  }
  return out;
}

/** RETRY_FIRST_MS, RETRY_MAX_MS: a failed looping source waits 1 s, doubling to 30 s, between passes. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

/** sleep waits `ms`, or less if `signal` aborts. */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((ok) => {
    const done = () => (clearTimeout(t), signal.removeEventListener('abort', done), ok());
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });

/**
 * runSources ingests every source; sources of one program take turns on its pipeline (one
 * pass at a time), programs run side by side. `once` ends; `loop` and `rate` go on until
 * the signal; rate-paced passes drop what overflows their queue. A pass that fails is logged
 * and counted (bpfbox_source_failures_total): a once source stops, a looping one retries.
 */
async function runSources(
  cfg: Config,
  programs: readonly LoadedProgram[],
  metrics: PipelineMetrics,
  signal: AbortSignal,
  log: (l: string) => void,
): Promise<void> {
  const byProgram = new Map<string, typeof cfg.sources>();
  for (const s of cfg.sources ?? []) byProgram.set(s.program, [...(byProgram.get(s.program) ?? []), s]);
  await Promise.all(
    [...byProgram].map(async ([name, sources]) => {
      const p = programs.find((x) => x.name === name)!;
      const pipeline = p.pipeline!;
      const pending = [...sources!];
      /** Failures in a row, by source (the backoff's exponent). */
      const failures = new Map<(typeof pending)[number], number>();
      while (pending.length && !signal.aborted) {
        for (const src of [...pending]) {
          if (signal.aborted) break;
          const label = `${name}:${src.captures.join(',')}`;
          const before = { skipped: pipeline.summary.skipped, dropped: pipeline.summary.dropped_overload };
          try {
            await pipeline.run(src.captures, {
              rate: src.mode === 'rate' ? src.rate : undefined,
              queueCapacity: src.queue_capacity,
              signal,
              queueDepth: (n) => metrics.queueDepth.set({ source: label }, n),
              progress: () => {
                const s = pipeline.summary;
                if (s.skipped > before.skipped) metrics.notRun.inc({ source: label }, s.skipped - before.skipped);
                if (s.dropped_overload > before.dropped)
                  metrics.droppedOverload.inc({ source: label }, s.dropped_overload - before.dropped);
                before.skipped = s.skipped;
                before.dropped = s.dropped_overload;
              },
            });
            failures.delete(src);
          } catch (e) {
            if (signal.aborted) break;
            // a pass that fails (the capture deleted, replaced by a directory, corrupt) is one line and a count;
            // the service stays up: a once source stops, a looping one retries after a backoff
            metrics.sourceFailures.inc({ source: label });
            const why = e instanceof Error ? e.message : String(e);
            if ((src.mode ?? 'once') === 'once') {
              pending.splice(pending.indexOf(src), 1);
              log(`source ${label}: failed: ${why} (stopped)`);
              continue;
            }
            const n = (failures.get(src) ?? 0) + 1;
            failures.set(src, n);
            const wait = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (n - 1));
            log(`source ${label}: failed: ${why} (retry ${n} in ${wait / 1000} s)`);
            await sleep(wait, signal);
            continue;
          }
          if ((src.mode ?? 'once') === 'once') {
            pending.splice(pending.indexOf(src), 1);
            log(`source ${label}: done (${pipeline.summary.packets} packets so far for ${name})`);
          }
        }
      }
    }),
  );
}
