import { cpus } from 'node:os';
import type { Neighbour, Route } from '../../hooks/helpers/fib.js';
import { ProgType } from '../../hooks/progType.js';
import { MAX_PACKET, cpuRegions } from '../../hooks/runtime.js';
import { type Verdict, verdictOf } from '../../hooks/verdict.js';
import { type AddressSpace, Perm, type Region } from '../../vm/memory.js';
import { linkTypeName, linkTypeSupported, toEthernet } from '../../pcaps/linkType.js';
import { openCapture } from '../../pcaps/open.js';
import { CaptureError, type CaptureReader, type CaptureRecord } from '../../pcaps/record.js';
import { applyMapInit, type MapInit } from './mapInit.js';
import { type MapsJson, mapsJson } from './mapsJson.js';
import { flowHash } from './flowHash.js';
import { loadForReplay } from './load.js';
import { WorkerPool } from './pool.js';
import { exportProgs } from './progTransfer.js';
import { type BatchResult, IN_FIELDS, In, OUT_FIELDS, Out, OutFlag, type PacketExtra } from './protocol.js';
import { type OutputFiles, openOutputs } from './outputs.js';

/** ReplayOptions: `bpfbox replay`'s flags (and the config's replay section). */
export interface ReplayOptions {
  readonly captures: readonly string[];
  readonly obj: string;
  readonly prog?: string;
  readonly type?: string;
  /** Worker threads (emulated CPUs); default: the number of cores. */
  readonly workers?: number;
  readonly mapInit?: { init: MapInit; where: string };
  readonly set?: Record<string, bigint>;
  readonly out?: string;
  readonly outPass?: string;
  readonly outDrop?: string;
  readonly deterministic?: boolean;
  readonly seed?: number;
  readonly ifindex?: number;
  readonly routes?: readonly Route[];
  readonly neighbours?: readonly Neighbour[];
  readonly trace?: (line: string) => void;
  readonly warn?: (line: string) => void;
  /** Called after every window of packets (progress bars). */
  readonly progress?: (p: { packets: number; fileBytes: number; totalBytes: number }) => void;
  /** Called for every packet, in capture order, after its verdict (metrics). */
  readonly onPacket?: (cpu: number, len: number, v: Verdict, faulted: boolean) => void;
}

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
  /** Packets not run: a link type that cannot become Ethernet, a runt an skb cannot hold, a packet longer than any device receives. */
  skipped: number;
  warnings: string[];
  maps: MapsJson;
  seconds: number;
  mpps: number;
}

/** Ingress buffers: two sets (one filling while the other runs), 8 MiB per worker each. */
const BUF_BYTES = 8 << 20;
/** Staging: the capture file is read straight into the shared memory, one buffer per window set. */
const STAGING_BYTES = 4 << 20;
const WINDOW = 8192;
const PAGE = 4096;
const HEADROOM = 256;
/** The longest packet replay runs: an XDP frame of 17 fragments past its linear part, or a 64 KiB skb. */
const MAX_LEN = 65535;

/**
 * replay runs every packet of the captures through the program on `workers` threads, in
 * windows: the main thread reads a window into the shared memory (each packet in the ingress
 * buffer of the worker its flow hashes to), the workers run their batches while the next
 * window is read, and the verdicts and rewritten packets are written out in capture order.
 */
export async function replay(o: ReplayOptions): Promise<ReplaySummary> {
  const nworkers = Math.max(1, o.workers ?? cpus().length);
  const { kernel, loaded, prog } = loadForReplay({ obj: o.obj, prog: o.prog, type: o.type, ncpus: nworkers, set: o.set, routes: o.routes, neighbours: o.neighbours });
  try {
    if (o.mapInit) applyMapInit(kernel, o.mapInit.init, loaded.maps, loaded.programs, o.mapInit.where);
    const mem = kernel.memory;
    const bufs: Region[][] = [0, 1].map((set) => Array.from({ length: nworkers }, (_, w) => mem.map(BUF_BYTES, Perm.RW, `ingress/cpu${w}/${set}`)));
    const staging: Region[] = [0, 1].map((set) => mem.map(STAGING_BYTES, Perm.READ, `capture/${set}`));
    const regions = Array.from({ length: nworkers }, (_, w) => cpuRegions(mem, w));
    const progs = exportProgs(kernel);
    const pool = new WorkerPool(regions.map((r, w) => ({
      space: mem.snapshot(), cpu: w, regions: r, progs, entry: prog.id, ifindex: o.ifindex ?? 1,
      deterministic: o.deterministic ?? false, seed: o.seed ?? 1, trace: o.trace !== undefined, routes: o.routes, neighbours: o.neighbours,
    })));
    const outputs = openOutputs(o, prog.type);
    const s: ReplaySummary = {
      program: prog.name, type: Object.entries({ xdp: ProgType.BPF_PROG_TYPE_XDP, socket: ProgType.BPF_PROG_TYPE_SOCKET_FILTER }).find(([, v]) => v === prog.type)?.[0] ?? 'tc',
      packets: 0, bytes: 0, verdicts: {}, verdict_names: {}, per_cpu: Array(nworkers).fill(0), busy_seconds: Array(nworkers).fill(0), errors: 0, skipped: 0, warnings: [], maps: {}, seconds: 0, mpps: 0,
    };
    const t0 = process.hrtime.bigint();
    try {
      const source = new Source(o.captures, mem, s, o.warn, Boolean(o.out || o.outPass || o.outDrop));
      const skb = prog.type !== ProgType.BPF_PROG_TYPE_XDP;
      // the workers run window k+1 while the main thread writes out window k and reads k+2
      let set = 0;
      let current = source.fill(bufs[0], staging[0], skb);
      let running = dispatch(pool, current);
      let next = source.fill(bufs[1], staging[1], skb);
      while (current.count > 0) {
        const results = await running;
        running = dispatch(pool, next);
        emit(current, results, s, outputs, prog.type, mem.u8, o);
        o.progress?.({ packets: s.packets, fileBytes: source.position, totalBytes: source.size });
        current = next;
        next = current.count > 0 ? source.fill(bufs[set], staging[set], skb) : current;
        set = 1 - set;
      }
      await running;
    } finally {
      outputs.close();
      await pool.close();
    }
    s.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    s.mpps = s.seconds > 0 ? s.packets / s.seconds / 1e6 : 0;
    s.maps = mapsJson(kernel, loaded.maps);
    return s;
  } finally {
    loaded.close();
  }
}

/** Window: the packets of one window, in capture order, and each worker's batch. */
interface Window {
  count: number;
  /** Per packet: worker (-1: not run), index in that worker's batch, timestamp, lengths. */
  worker: Int32Array;
  index: Int32Array;
  tsSec: Float64Array;
  tsNsec: Int32Array;
  origLen: Int32Array;
  /** Not run: the bytes themselves (a runt, say) and why. */
  notRun: Map<number, { data: Uint8Array; why: string }>;
  batches: Int32Array[];
  batchLen: number[];
}

/** A record held over to the next window (its worker's buffer was full), copied out of the reader's buffer. */
interface Held { frame: Uint8Array; tsSec: number; tsNsec: number; origLen: number }

/** Source reads the captures one after another into windows in the shared memory. */
class Source {
  readonly #paths: readonly string[];
  readonly #s: ReplaySummary;
  readonly #warn?: (l: string) => void;
  readonly #mem: AddressSpace;
  #i = 0;
  #reader?: CaptureReader;
  #doneBytes = 0;
  #held?: Held;
  #finished = false;
  readonly size: number;

  /** Whether packets are kept in slots until they are written out (else the workers reuse their frames). */
  readonly #keep: boolean;

  constructor(paths: readonly string[], mem: AddressSpace, s: ReplaySummary, warn: ((l: string) => void) | undefined, keep: boolean) {
    this.#keep = keep;
    this.#paths = paths;
    this.#mem = mem;
    this.#s = s;
    this.#warn = warn;
    // open each once up front: a missing or corrupt file fails before any packet runs
    let size = 0;
    for (const p of paths) {
      const r = openCapture(p);
      size += r.size;
      r.close();
    }
    this.size = size;
  }

  get position(): number {
    return this.#doneBytes + (this.#reader?.position ?? 0);
  }

  /**
   * #next: the next record, or null when the window must end: the staging buffer is full,
   * a file ended (a window never spans files: their records share the staging buffer), or
   * the captures are done (then `#finished`).
   */
  #next(staging: Uint8Array, windowEmpty: boolean): CaptureRecord | null {
    for (;;) {
      if (!this.#reader) {
        if (this.#i >= this.#paths.length) return (this.#finished = true), null;
        if (!windowEmpty) return null;
        this.#reader = openCapture(this.#paths[this.#i++]);
        this.#reader.bytes.compact = false;
        this.#reader.bytes.setBuffer(staging);
      }
      const r = this.#reader.next();
      if (r) return r;
      if (this.#reader.bytes.full) return null;
      for (const w of this.#reader.warnings) this.#warning(w);
      this.#doneBytes += this.#reader.size;
      this.#reader.close();
      this.#reader = undefined;
    }
  }

  #warning(w: string): void {
    this.#s.warnings.push(w);
    this.#warn?.(w);
  }

  /** fill reads up to WINDOW packets, each into the ingress buffer of the worker its flow hashes to. */
  fill(bufs: readonly Region[], stagingRegion: Region, skb: boolean): Window {
    const n = bufs.length;
    const win: Window = {
      count: 0, worker: new Int32Array(WINDOW), index: new Int32Array(WINDOW), tsSec: new Float64Array(WINDOW), tsNsec: new Int32Array(WINDOW), origLen: new Int32Array(WINDOW),
      notRun: new Map(), batches: Array.from({ length: n }, () => new Int32Array(WINDOW * IN_FIELDS)), batchLen: Array(n).fill(0),
    };
    const used: number[] = Array(n).fill(0);
    const u8 = this.#mem.u8;
    const staging = u8.subarray(stagingRegion.start, stagingRegion.start + stagingRegion.size);
    this.#reader?.bytes.setBuffer(staging);
    while (win.count < WINDOW && !this.#finished) {
      let frame: Uint8Array | string;
      let rec: Held;
      if (this.#held) {
        rec = this.#held;
        frame = rec.frame;
        this.#held = undefined;
      } else {
        const r = this.#next(staging, win.count === 0);
        if (!r) break;
        if (!linkTypeSupported(r.linkType)) throw new CaptureError(this.#reader!.path, r.offset, `record ${r.index}: ${linkTypeName(r.linkType)} is not supported (Ethernet, raw IP, Linux SLL and SLL2 are)`);
        frame = toEthernet(r.linkType, r.data);
        rec = { frame: typeof frame === 'string' ? r.data : frame, tsSec: r.tsSec, tsNsec: r.tsNsec, origLen: r.origLen };
        let why: string | undefined;
        if (typeof frame === 'string') why = frame;
        else if (frame.length > MAX_LEN) why = `${frame.length} bytes: longer than ${MAX_LEN}`;
        else if (skb && frame.length < 14) why = `${frame.length} bytes: shorter than an Ethernet header, which no skb is`;
        if (why !== undefined) {
          const i = win.count++;
          this.#stamp(win, i, rec);
          win.worker[i] = -1;
          win.notRun.set(i, { data: rec.frame.slice(), why });
          this.#s.skipped++;
          if (this.#s.skipped <= 10) this.#warning(`${this.#reader?.path}: record ${r.index} (offset ${r.offset}): not run: ${why}`);
          continue;
        }
      }
      const f = frame as Uint8Array;
      const w = n === 1 ? 0 : flowHash(f) % n;
      // a frame still in the staging buffer is copied into its slot (or frame) by the worker
      const inStaging = f.buffer === u8.buffer;
      const slotless = !this.#keep && inStaging && f.length <= MAX_PACKET;
      const room = slotless ? 0 : f.length <= 3520 ? PAGE : Math.ceil((HEADROOM + f.length + PAGE + 320) / PAGE) * PAGE;
      if (used[w] + room > bufs[w].size) {
        // this worker's buffer is full: the packet starts the next window
        this.#held = { ...rec, frame: f.slice() };
        break;
      }
      const i = win.count++;
      this.#stamp(win, i, rec);
      const hardStart = slotless ? 0 : bufs[w].start + used[w];
      used[w] += room;
      if (!inStaging) u8.set(f, hardStart + HEADROOM);
      const b = win.batches[w];
      const k = win.batchLen[w]++;
      const o = k * IN_FIELDS;
      b[o + In.SRC] = inStaging ? f.byteOffset : 0;
      b[o + In.HARD_START] = hardStart;
      b[o + In.ROOM] = room;
      b[o + In.LEN] = f.length;
      b[o + In.WIRE_LEN] = Math.max(rec.origLen, f.length);
      b[o + In.TS_SEC] = rec.tsSec | 0;
      b[o + In.TS_NSEC] = rec.tsNsec;
      win.worker[i] = w;
      win.index[i] = k;
    }
    return win;
  }

  #stamp(win: Window, i: number, r: Held): void {
    win.tsSec[i] = r.tsSec;
    win.tsNsec[i] = r.tsNsec;
    win.origLen[i] = r.origLen;
  }
}

function dispatch(pool: WorkerPool, win: Window): Promise<(BatchResult | undefined)[]> {
  return Promise.all(win.batches.map((b, w) => (win.batchLen[w] ? pool.run(w, { id: w, packets: b.slice(0, win.batchLen[w] * IN_FIELDS) }) : Promise.resolve(undefined))));
}

function emit(win: Window, results: (BatchResult | undefined)[], s: ReplaySummary, out: OutputFiles, type: number, u8: Uint8Array, o: ReplayOptions): void {
  const extras = results.map((r) => new Map<number, PacketExtra>((r?.extras ?? []).map((e) => [e.i, e])));
  results.forEach((r, w) => {
    for (const t of r?.traces ?? []) o.trace?.(t);
    s.busy_seconds[w] += (r?.ns ?? 0) / 1e9;
  });
  for (let i = 0; i < win.count; i++) {
    const ts = { tsSec: win.tsSec[i], tsNsec: win.tsNsec[i] };
    const w = win.worker[i];
    if (w < 0) {
      const nr = win.notRun.get(i)!;
      out.notRun({ data: nr.data, origLen: win.origLen[i], ...ts }, nr.why);
      continue;
    }
    const res = results[w]!.results;
    const k = win.index[i];
    const base = k * OUT_FIELDS;
    const flags = res[base + Out.FLAGS];
    const extra = flags & OutFlag.EXTRA ? extras[w].get(k) : undefined;
    const faulted = (flags & OutFlag.FAULT) !== 0;
    const start = res[base + Out.START];
    const len = res[base + Out.LEN];
    let data = u8.subarray(start, start + len);
    if (extra?.tail) data = Buffer.concat([data, extra.tail]);
    const v = verdictOf(type, res[base + Out.RETVAL], data.length, faulted);
    if (v.keep !== undefined && v.keep < data.length) data = data.subarray(0, v.keep);
    s.packets++;
    s.bytes += len;
    s.per_cpu[w]++;
    if (faulted) {
      s.errors++;
      if (s.errors <= 10) s.warnings.push(`packet ${s.packets - 1}: the program faulted: ${extra?.fault}`);
    }
    s.verdicts[v.retval] = (s.verdicts[v.retval] ?? 0) + 1;
    s.verdict_names[v.name] = (s.verdict_names[v.name] ?? 0) + 1;
    o.onPacket?.(w, len, v, faulted);
    out.packet({ data, origLen: win.origLen[i], ...ts }, w, v, extra, faulted);
  }
}
