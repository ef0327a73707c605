import type { EngineName } from '../../vm/engine.js';
import { cpus } from 'node:os';
import type { Device, Neighbour, Route } from '../../hooks/helpers/fib.js';
import { ProgType } from '../../uapi/progType.js';
import type { Kernel } from '../../kernel/kernel.js';
import type { ProgObject } from '../../kernel/objects.js';
import { Perm, type Region } from '../../vm/memory.js';
import { UserError } from '../../uapi/userError.js';
import { cpuRegionsBytes } from '../../hooks/runtime.js';
import type { MapsJson } from './mapsJson.js';
import { type OutputFiles, openOutputs } from './sinks/captureFiles.js';
import { InlinePool, type StartedWorkers, WorkerPool } from './pool.js';
import { cpuInits } from './cpuInits.js';
import { type EventCount, type EventMap, type EventRecord, eventMaps, openPerfEvents } from './events.js';
import { type BatchResult, OUT_FIELDS, Out, OutFlag, type PacketExtra } from './protocol.js';
import { BUF_BYTES, STAGING_BYTES, Source, WINDOW, type Window } from './sources/fileSource.js';
import { RxQueues, steer } from './sources/preload.js';
import { THREAD_CPU, threadCpuNs } from './threadCpu.js';
import { CaptureError } from '../../pcaps/record.js';
import {
  type StreamFile,
  ctlBytes,
  descBytes,
  ringSlotBytes,
  streamEnabled,
  streamed,
  windowBytes,
  windowsOf,
} from './sources/windowRing.js';
import type { StreamWindow } from './sources/windowWalk.js';

/** Sets of buffers a streamed pass keeps in flight where they fit (#deepen), and the address space they leave at least. */
const SETS = 4;
const DEEPEN_SPARE = 256 << 20;

/** ReplaySummary: what `--json` prints. */
export interface ReplaySummary {
  program: string;
  type: string;
  packets: number;
  bytes: number;
  verdicts: Record<string, number>;
  verdict_names: Record<string, number>;
  per_cpu: number[];
  /** Seconds each worker spent running programs. */
  busy_seconds: number[];
  /** Packets whose run faulted (handled as an aborted program's). */
  errors: number;
  /** Packets not run: a frame that cannot become Ethernet, a runt an skb cannot hold, one longer than any device receives. */
  skipped: number;
  /** Packets dropped unrun because ingest ran ahead of the workers (rate-paced sources only). */
  dropped_overload: number;
  warnings: string[];
  maps: MapsJson;
  seconds: number;
  mpps: number;
  /** Events per ring buffer and perf event array of the program (only a program that has some). */
  events?: EventCount[];
  /** Peak resident memory of the process so far (MiB). */
  max_rss_mb?: number;
  /** Where `--pinmaps` pinned the maps as the run left them. */
  pinned_maps?: string[];
  /** Only with BPFBOX_THREAD_CPU set (threadCpu.ts): CPU seconds of the passes, the main thread's and each worker's in its requests. */
  thread_cpu_seconds?: { main: number; workers: number[] };
  /** The emulated CPUs ran in turns on the main thread, no worker threads (a short capture: InlinePool). */
  inline?: boolean;
}

/** emptySummary: a summary of no packets yet, for `prog` on `n` CPUs (replay's, and a live bridge's start). */
export function emptySummary(prog: Pick<ProgObject, 'name' | 'type'>, n: number): ReplaySummary {
  const t = prog.type;
  return {
    program: prog.name,
    type: t === ProgType.BPF_PROG_TYPE_XDP ? 'xdp' : t === ProgType.BPF_PROG_TYPE_SOCKET_FILTER ? 'socket' : 'tc',
    packets: 0,
    bytes: 0,
    verdicts: {},
    verdict_names: {},
    per_cpu: Array(n).fill(0),
    busy_seconds: Array(n).fill(0),
    errors: 0,
    skipped: 0,
    dropped_overload: 0,
    warnings: [],
    maps: {},
    seconds: 0,
    mpps: 0,
  };
}

/** PipelineOptions: the program, its kernel, the workers and what the runtime needs. */
export interface PipelineOptions {
  readonly kernel: Kernel;
  readonly prog: ProgObject;
  /** Worker threads (emulated CPUs, at most the kernel's ncpus); default: the number of cores. */
  readonly workers?: number;
  /** Those workers, started while the object loaded (replay's start-up); the pipeline then owns them. */
  readonly early?: StartedWorkers;
  /** Run the emulated CPUs on this thread in turns, no worker threads (InlinePool: a capture too short to pay for threads). */
  readonly inline?: boolean;
  readonly deterministic?: boolean;
  readonly seed?: number;
  readonly ifindex?: number;
  readonly routes?: readonly Route[];
  readonly neighbours?: readonly Neighbour[];
  readonly devices?: readonly Device[];
  /** bpf_trace_printk lines, with the CPU (worker) that printed each. */
  readonly trace?: (line: string, cpu: number) => void;
  readonly warn?: (line: string) => void;
  /** The engine the workers run the program on (default: DEFAULT_ENGINE, the JIT). */
  readonly engine?: EngineName;
  /** Packets run, per window, worker and verdict: how many, their bytes (as the verdict left them), how many faulted (metrics). */
  readonly onPackets?: (cpu: number, verdict: string, packets: number, bytes: number, faults: number) => void;
  /** Every batch: the worker and the run times (ns) it sampled, one packet in 64. */
  readonly onBatch?: (cpu: number, samples: readonly number[]) => void;
  /** Every batch with events: the records a worker read, in its order (given: the workers send records, not only counts). */
  readonly onEvents?: (records: readonly EventRecord[], maps: readonly EventMap[]) => void;
}

/** RunOptions: one pass over captures: where packets go, progress, pacing. */
export interface RunOptions {
  readonly out?: string;
  readonly outPass?: string;
  readonly outDrop?: string;
  readonly progress?: (p: { packets: number; fileBytes: number; totalBytes: number }) => void;
  /** Packets per second to ingest at (default: as fast as the workers go). */
  readonly rate?: number;
  /** Packets that may wait for the workers before ingest drops them (rate-paced only). */
  readonly queueCapacity?: number;
  /** The packets read but not yet run (the ingest queue), after each change. */
  readonly queueDepth?: (n: number) => void;
  /** Stops the pass early (a service shutting down). */
  readonly signal?: AbortSignal;
  /** Read the captures whole into memory before the clock starts (tcpreplay's --preload-pcap): the pass then measures the data path alone. */
  readonly preload?: boolean;
}

/**
 * Pipeline is the appliance's data path for one program: per-CPU worker threads attached to
 * the kernel's shared memory, two sets of ingress and staging buffers, and the summary. A
 * pass reads captures in windows: the main thread reads a window into the shared memory
 * (each packet for the worker its flow hashes to), the workers run window k+1 while the main
 * thread writes out window k and reads k+2; verdicts and packets come out in capture order.
 * With several workers, plain pcap files and nothing written out, the workers read the files
 * themselves instead (#stream, sources/windowRing.ts): the main thread only sends requests.
 */
export class Pipeline {
  readonly summary: ReplaySummary;
  readonly #o: PipelineOptions;
  readonly #pool: WorkerPool | InlinePool;
  /** Sets of ingress buffers (one per worker) and staging buffers: two from the start, more for a streamed pass where they fit (#deepen). */
  readonly #bufs: Region[][];
  readonly #staging: Region[];
  /** --preload's receive-queue memory, mapped by the first preloaded pass. */
  #rxq?: RxQueues;
  #running = false;
  #faultWarnings = 0;
  /** BPFBOX_THREAD_CPU: each worker's CPU time so far at its first request of the pass and at its last (BatchResult.cpu). */
  #cpu: ({ start: number; end: number } | undefined)[] = [];
  /** The workers run the program in batches and can walk capture records themselves (WorkerInit.batch). */
  readonly #records: boolean;
  readonly #events: readonly EventMap[];
  /** A streamed pass the workers read (#stream): the ring of window slots and its control words, mapped at the first. */
  #ring?: { readonly slots: Region; readonly ctl: Region; readonly desc: Region[][]; readonly count: number; readonly bytes: number };

  constructor(o: PipelineOptions) {
    const n = Math.max(1, o.workers ?? cpus().length);
    if (n > o.kernel.ncpus) throw new RangeError(`${n} workers but the kernel has ${o.kernel.ncpus} CPUs`);
    this.#o = o;
    const mem = o.kernel.memory;
    // each worker takes two ingress buffers of the address space: more workers than fit is the user's --workers, said so
    const room = mem.unmapped - 2 * STAGING_BYTES;
    const fit = Math.floor(room / (2 * BUF_BYTES + cpuRegionsBytes()));
    if (n > fit)
      throw new UserError(
        `--workers ${n}: each worker needs ${(2 * BUF_BYTES) >> 20} MiB of the ${mem.maximumBytes >> 20} MiB address space: at most ${fit} workers fit`,
        { field: '--workers' },
      );
    this.#bufs = [0, 1].map((set) => Array.from({ length: n }, (_, w) => mem.map(BUF_BYTES, Perm.RW, `ingress/cpu${w}/${set}`)));
    this.#staging = [0, 1].map((set) => mem.map(STAGING_BYTES, Perm.READ, `capture/${set}`));
    openPerfEvents(o.prog, n);
    const { inits, batch } = cpuInits(o, n);
    this.#pool = o.inline ? new InlinePool(inits) : new WorkerPool(inits, o.early);
    this.#records = batch;
    this.summary = emptySummary(o.prog, n);
    this.#events = eventMaps(o.prog);
    if (this.#events.length) this.summary.events = this.#events.map((e) => ({ map: e.name, map_id: e.id, kind: e.kind, count: 0 }));
  }

  /** run replays the captures once, in order. */
  async run(captures: readonly string[], r: RunOptions = {}): Promise<void> {
    if (this.#running) throw new Error('a pipeline runs one pass at a time');
    this.#running = true;
    const s = this.summary;
    // the clock starts when the workers are up (as a kernel replay's starts after loading), and the captures preloaded if asked
    let source: Source;
    let cut: Window[] | undefined;
    try {
      await this.#pool.ready;
      source = new Source(captures, this.#o.kernel.memory, s, this.#o.warn, Boolean(r.out || r.outPass || r.outDrop));
      // --preload: without outputs, every packet steered to its worker's queue; with them, the files read into memory
      if (r.preload && !(r.out || r.outPass || r.outDrop) && !r.rate)
        cut = steer(
          source,
          this.#o.kernel.memory,
          (this.#rxq ??= new RxQueues(this.#o.kernel.memory, this.#bufs[0].length)),
          this.#bufs,
          this.#staging,
          this.#o.prog.type !== ProgType.BPF_PROG_TYPE_XDP,
        );
      else if (r.preload) source.preload();
    } catch (e) {
      this.#running = false;
      throw e;
    }
    const t0 = process.hrtime.bigint();
    const c0 = THREAD_CPU ? threadCpuNs() : 0;
    const outputs = openOutputs(r, this.#o.prog.type);
    try {
      const skb = this.#o.prog.type !== ProgType.BPF_PROG_TYPE_XDP;
      const pace = r.rate ? new Pace(r.rate, r.queueCapacity ?? 2 * WINDOW) : undefined;
      if (cut) {
        // steered before the pass: every window goes to the workers at once, to run back to back
        const all = cut.map((win) => ({ win, results: this.#dispatch(win) }));
        r.queueDepth?.(cut.reduce((n, w) => n + w.count, 0));
        for (const { win, results } of all) {
          this.#emit(win, await results, outputs);
          r.progress?.({ packets: s.packets, fileBytes: source.position, totalBytes: source.size });
        }
        r.queueDepth?.(0);
        return;
      }
      if (!r.preload) this.#deepen();
      // several workers, plain pcap files, nothing written out: the workers read the files themselves
      // (not inline: its CPUs take turns on one thread, and a CPU may wait for the one that reads a window)
      const n = this.#bufs[0].length;
      const files =
        n > 1 && !this.#o.inline && streamEnabled() && !pace && !r.preload && !outputs.writes && !this.#events.length && !this.#o.trace
          ? source.streamFiles()
          : undefined;
      if (files && this.#mapRing()) {
        await this.#stream(files, skb, outputs, r);
        return;
      }
      const fill = async (set: number): Promise<Window> => {
        let limit = WINDOW;
        if (pace) {
          const { due, overflow } = await pace.next(this.summary.packets, r.signal);
          if (overflow) s.dropped_overload += source.discard(overflow);
          limit = due;
        }
        if (r.signal?.aborted) limit = 0;
        // one worker walks the records where they lie; more take descriptors (the main thread hashes), so none reads another's packets
        const records = this.#records && this.#bufs[set].length === 1;
        const w = source.fill(this.#bufs[set], this.#staging[set], { skb, limit, tally: !outputs.writes, records });
        pace?.sent(w.count);
        return w;
      };
      // up to a window per set in flight: a worker finds the next waiting when it is done with one, and
      // one that ran ahead of the others goes on while the main thread waits for the slowest
      const sets = this.#bufs.length;
      const flight: { win: Window; running: Promise<(BatchResult | undefined)[]> }[] = [];
      const depth = () => r.queueDepth?.(flight.reduce((n, f) => n + f.win.count, 0));
      let set = 0;
      // a window is empty only when the captures are done (or the pass was stopped)
      let done = false;
      for (;;) {
        while (!done && flight.length < sets) {
          const win = await fill(set);
          set = (set + 1) % sets;
          if (!win.count) done = true;
          else flight.push({ win, running: this.#dispatch(win) });
        }
        depth();
        const head = flight.shift();
        if (!head) break;
        this.#emit(head.win, await head.running, outputs);
        r.progress?.({ packets: s.packets, fileBytes: source.position, totalBytes: source.size });
      }
      r.queueDepth?.(0);
    } finally {
      outputs.close();
      s.seconds += Number(process.hrtime.bigint() - t0) / 1e9;
      s.mpps = s.seconds > 0 ? s.packets / s.seconds / 1e6 : 0;
      if (THREAD_CPU) {
        const t = (s.thread_cpu_seconds ??= { main: 0, workers: Array(this.#bufs[0].length).fill(0) });
        t.main += (threadCpuNs() - c0) / 1e9;
        this.#cpu.forEach((c, w) => (t.workers[w] += c ? (c.end - c.start) / 1e9 : 0));
        this.#cpu = [];
      }
      this.#running = false;
    }
  }

  /**
   * #deepen maps two more sets of buffers (SETS in all) for a streamed pass, once, if the
   * address space has room for them and still DEEPEN_SPARE: more windows in flight let a worker
   * that is ahead go on while another finishes (the flows' split is seldom even, window by
   * window). Where they do not fit, the pass goes on with two.
   */
  #deepen(): void {
    const mem = this.#o.kernel.memory;
    const n = this.#bufs[0].length;
    while (this.#bufs.length < SETS && mem.unmapped - (n * BUF_BYTES + STAGING_BYTES) >= DEEPEN_SPARE) {
      const set = this.#bufs.length;
      this.#bufs.push(Array.from({ length: n }, (_, w) => mem.map(BUF_BYTES, Perm.RW, `ingress/cpu${w}/${set}`)));
      this.#staging.push(mem.map(STAGING_BYTES, Perm.READ, `capture/${set}`));
    }
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }

  /** #mapRing maps the ring of a streamed pass (a slot per set of buffers) and its control words, once; false where they do not fit. */
  #mapRing(): boolean {
    const bytes = windowBytes();
    if (this.#ring) return this.#ring.bytes === bytes;
    const mem = this.#o.kernel.memory;
    const count = this.#bufs.length;
    const n = this.#bufs[0].length;
    const slot = ringSlotBytes(bytes);
    if (mem.unmapped < count * (slot + n * descBytes(bytes)) + ctlBytes(count, n) + DEEPEN_SPARE) return false;
    this.#ring = {
      slots: mem.map(count * slot, Perm.READ, 'stream/ring'),
      ctl: mem.map(ctlBytes(count, n), Perm.READ, 'stream/ctl'),
      desc: Array.from({ length: count }, (_, s) =>
        Array.from({ length: n }, (_, w) => mem.map(descBytes(bytes), Perm.RW, `stream/desc/cpu${w}/${s}`)),
      ),
      count,
      bytes,
    };
    return true;
  }

  /**
   * #stream is a pass over `files` that the workers read themselves (sources/windowRing.ts):
   * the main thread sends each worker a request per window, a set's slot of the ring per window
   * in flight, and adds up the results window by window, in the order of the files.
   */
  async #stream(files: readonly StreamFile[], skb: boolean, outputs: OutputFiles, r: RunOptions): Promise<void> {
    const ring = this.#ring!;
    const mem = this.#o.kernel.memory;
    const n = this.#bufs[0].length;
    const S = ring.count;
    const W = ring.bytes;
    const SLOT = ringSlotBytes(W);
    mem.u8.fill(0, ring.ctl.start, ring.ctl.start + ring.ctl.size);
    const ctlAt = (slot: number) => ring.ctl.start + ctlBytes(slot, n);
    const list = files.flatMap((file) => Array.from({ length: windowsOf(file.size, W) }, (_, win) => ({ file, win })));
    const total = files.reduce((t, f) => t + f.size, 0);
    const window = (g: number): StreamWindow => {
      const { file, win } = list[g];
      const s = g % S;
      const next = list[g + 1];
      return {
        seq: g + 1,
        file,
        win,
        bytes: W,
        reader: g % n,
        workers: n,
        slots: S,
        slot: ring.slots.start + s * SLOT,
        ctl: ctlAt(s),
        nextCtl: ctlAt((g + 1) % S),
        ctlBase: ring.ctl.start,
        desc: ring.desc[s].map((d) => d.start),
        // the first set's ingress buffers (unused by this pass) were mapped before the workers started: their region tables know them
        big: this.#bufs[0].map((b) => b.start),
        skb,
        ahead: next && {
          seq: g + 2,
          file: next.file,
          win: next.win,
          slot: ring.slots.start + ((g + 1) % S) * SLOT,
          ctl: ctlAt((g + 1) % S),
        },
      };
    };
    const flight: { g: number; running: Promise<BatchResult[]> }[] = [];
    const win: Window = {
      count: 0,
      tally: true,
      worker: new Int32Array(0),
      index: new Int32Array(0),
      tsSec: new Float64Array(0),
      tsNsec: new Int32Array(0),
      origLen: new Int32Array(0),
      notRun: new Map(),
      desc: [],
      batchLen: [],
    };
    let g = 0;
    let bytes = 0;
    try {
      for (;;) {
        while (g < list.length && flight.length < S && !r.signal?.aborted) {
          const w = window(g);
          flight.push({
            g,
            running: Promise.all(
              Array.from({ length: n }, (_, k) => this.#pool.run(k, { id: k, desc: w.desc[k], n: 0, tally: true, window: w })),
            ),
          });
          g++;
        }
        const head = flight.shift();
        if (!head) break;
        const results = await head.running;
        const { file, win: i } = list[head.g];
        this.#walked(file, results[head.g % n].walk);
        this.#emit(win, results, outputs);
        streamed.windows++;
        bytes += Math.min(W, Math.max(0, file.size - 24 - i * W)) + (i === 0 ? 24 : 0);
        r.progress?.({ packets: this.summary.packets, fileBytes: bytes, totalBytes: total });
      }
    } catch (e) {
      // the windows still in flight end (the workers see the pass aborted) before the error goes up
      await Promise.allSettled(flight.map((f) => f.running));
      throw e;
    }
  }

  /** #walked adds what a window's walk found besides packets: records not run, a record cut off at the end; a corrupt header ends the pass. */
  #walked(file: StreamFile, report: BatchResult['walk']): void {
    if (!report) return;
    const s = this.summary;
    const warn = (l: string) => (s.warnings.push(l), this.#o.warn?.(l));
    for (const x of report.notRun) if (++s.skipped <= 10) warn(`${file.path}: record ${x.index} (offset ${x.offset}): not run: ${x.why}`);
    if (report.error) throw new CaptureError(file.path, report.error.offset, report.error.message);
    if (report.cut) warn(report.cut);
  }

  #dispatch(win: Window): Promise<(BatchResult | undefined)[]> {
    const rec = win.records;
    if (rec)
      return Promise.all(
        win.desc.map((desc, w) => this.#pool.run(w, { id: w, desc, n: 0, tally: true, records: { ...rec, workers: win.desc.length } })),
      );
    return Promise.all(
      win.desc.map((desc, w) =>
        win.batchLen[w] ? this.#pool.run(w, { id: w, desc, n: win.batchLen[w], tally: win.tally }) : Promise.resolve(undefined),
      ),
    );
  }

  #emit(win: Window, results: (BatchResult | undefined)[], out: OutputFiles): void {
    const o = this.#o;
    const s = this.summary;
    results.forEach((r, w) => {
      if (!r) return;
      for (const t of r.traces) o.trace?.(t, w);
      s.busy_seconds[w] += r.ns / 1e9;
      if (r.cpu) this.#cpu[w] = { start: this.#cpu[w]?.start ?? r.cpu.start, end: r.cpu.end };
      o.onBatch?.(w, r.samples);
      if (r.events) this.#emitEvents(r.events.counts, r.events.records);
    });
    // faults warned of in capture order (per packet) or by worker, then the workers' counts by verdict added to the summary
    if (win.tally) {
      results.forEach((r, w) => {
        for (const e of r?.extras ?? []) if (e.fault) this.#fault(`CPU ${w}, packet ${e.i} of its batch`, e.fault);
      });
    } else this.#emitPackets(win, results, out);
    results.forEach((r, w) => {
      for (const t of r?.tally ?? []) {
        s.packets += t.packets;
        s.bytes += t.bytes;
        s.per_cpu[w] += t.packets;
        s.errors += t.faults;
        s.verdicts[t.retval] = (s.verdicts[t.retval] ?? 0) + t.packets;
        s.verdict_names[t.name] = (s.verdict_names[t.name] ?? 0) + t.packets;
        o.onPackets?.(w, t.name, t.packets, t.bytes, t.faults);
      }
    });
  }

  /** #emitEvents adds a worker's event counts to the summary and hands its records on. */
  #emitEvents(counts: readonly number[], records: readonly EventRecord[] | undefined): void {
    counts.forEach((c, m) => (this.summary.events![m].count += c));
    if (records?.length) this.#o.onEvents?.(records, this.#events);
  }

  /** #fault warns of the first 10 faulted runs. */
  #fault(where: string, message: string | undefined): void {
    if (this.#faultWarnings++ < 10) this.summary.warnings.push(`${where}: the program faulted: ${message}`);
  }

  /** #emitPackets goes through a window's packets in capture order: faults warned of, outputs written, each with the verdict its worker gave it. */
  #emitPackets(win: Window, results: (BatchResult | undefined)[], out: OutputFiles): void {
    const u8 = this.#o.kernel.memory.u8;
    const extras = results.map((r) => new Map<number, PacketExtra>((r?.extras ?? []).map((e) => [e.i, e])));
    const writes = out.writes;
    let ran = 0;
    for (let i = 0; i < win.count; i++) {
      const w = win.worker[i];
      if (w < 0) {
        const nr = win.notRun.get(i)!;
        if (writes) out.notRun({ data: nr.data, origLen: win.origLen[i], tsSec: win.tsSec[i], tsNsec: win.tsNsec[i] }, nr.why);
        continue;
      }
      const r = results[w]!;
      const res = r.results!;
      const k = win.index[i];
      const base = k * OUT_FIELDS;
      const flags = res[base + Out.FLAGS];
      const extra = flags & OutFlag.EXTRA ? extras[w].get(k) : undefined;
      const faulted = (flags & OutFlag.FAULT) !== 0;
      if (faulted) this.#fault(`packet ${this.summary.packets + ran}`, extra?.fault);
      ran++;
      if (writes) {
        const start = res[base + Out.START];
        let data = u8.subarray(start, start + res[base + Out.LEN]);
        if (extra?.tail) data = Buffer.concat([data, extra.tail]);
        out.packet(
          { data: data.subarray(0, res[base + Out.KEPT]), origLen: win.origLen[i], tsSec: win.tsSec[i], tsNsec: win.tsNsec[i] },
          w,
          r.tally[res[base + Out.ROW]],
          extra,
          faulted,
        );
      }
    }
  }
}

/**
 * Pace releases packets at a rate: `next` waits until at least one is due and says how many
 * (at most a window); when the workers fell behind by more than the queue holds, the
 * overflow is to be dropped, as a NIC's ring drops what the host does not take in time.
 */
class Pace {
  readonly #rate: number;
  readonly #capacity: number;
  readonly #t0 = process.hrtime.bigint();
  #sent = 0;

  constructor(rate: number, capacity: number) {
    this.#rate = rate;
    this.#capacity = capacity;
  }

  #due(): number {
    return Math.floor((Number(process.hrtime.bigint() - this.#t0) / 1e9) * this.#rate);
  }

  async next(done: number, signal?: AbortSignal): Promise<{ due: number; overflow: number }> {
    let due = this.#due() - this.#sent;
    while (due <= 0 && !signal?.aborted) {
      await new Promise((ok) => setTimeout(ok, Math.max(1, Math.ceil(((1 - due) / this.#rate) * 1000))));
      due = this.#due() - this.#sent;
    }
    const waiting = this.#sent - done;
    // at least one packet goes in per window, so the pass goes on
    const overflow = Math.max(0, Math.min(waiting + due - this.#capacity, due - 1));
    this.#sent += overflow;
    return { due: Math.max(0, Math.min(due - overflow, WINDOW)), overflow };
  }

  sent(n: number): void {
    this.#sent += n;
  }
}
