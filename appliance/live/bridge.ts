import { Worker } from 'node:worker_threads';
import { UserError } from '../../uapi/userError.js';
import { verdictOf } from '../../hooks/verdict.js';
import { Perm } from '../../vm/memory.js';
import { DESC_BYTES } from '../../vm/jit/xdpBatchDriver.js';
import { cpuInits, runsInBatches } from '../datapath/cpuInits.js';
import { exportProgs } from '../datapath/progTransfer.js';
import type { ProgObject } from '../../kernel/objects.js';
import { type PipelineOptions, type ReplaySummary, emptySummary } from '../datapath/pipeline.js';
import type { WorkerInit } from '../datapath/protocol.js';
import { type OutputFiles, openOutputs } from '../datapath/sinks/captureFiles.js';
import { CounterLayout, IFACE_COUNTER_NAMES, type IfaceCounter, IfaceSlot, RETVALS, VERDICT_NAMES, WorkerSlot } from './counters.js';
import {
  CONTROL_WORDS,
  Control,
  LIVE_BATCH,
  type LiveCommand,
  type LiveIface,
  type LiveMessage,
  type LiveWorkerInit,
  type Offloads,
  type OnError,
  RECORD_WORDS,
  Rec,
  type RingSpec,
} from './liveProtocol.js';
import { RING, livePermission, loadAfPacket } from './native.js';
import { LiveError, type LivePair, checkPlan, checkType, fanoutGroup, ifindexOf, openError, releaseFanoutGroup } from './plan.js';

export { LiveError, type LivePair } from './plan.js';
import { leftOff, offloadsOff, restoreOffloads } from './offloads.js';

/** LiveOptions: what a bridge runs (the program, its kernel) and on what. */
export interface LiveOptions extends Pick<PipelineOptions, 'kernel' | 'prog' | 'engine' | 'routes' | 'neighbours' | 'devices'> {
  readonly pairs: readonly LivePair[];
  readonly workers: number;
  readonly offloads?: Offloads;
  readonly onError?: OnError;
  /** Every run packet, with its verdict, to this capture (pcapng: epb_verdict). */
  readonly out?: string;
  readonly ring?: Partial<RingSpec>;
  /** PACKET_QDISC_BYPASS on the sockets (default on). */
  readonly qdiscBypass?: boolean;
  readonly log?: (line: string) => void;
  readonly warn?: (line: string) => void;
}

/** LiveSummary: replay's summary, plus the interfaces' counters and what failed. */
export interface LiveSummary extends ReplaySummary {
  interfaces: Record<string, Record<IfaceCounter, number>>;
  offloads: Offloads;
  on_error: OnError;
  worker_failures: number;
  /** Frames a worker took from its ring and had not finished when it died (its batch in flight). */
  lost_on_failure: number;
}

/** The rings: TPACKET_V2 (a frame handed over at once: inline), frames for a 1500-byte MTU; passthrough's hold 64 KiB GSO frames. */
const ringFor = (offloads: Offloads): RingSpec => {
  const r = offloads === 'passthrough' ? RING.gso : RING.mtu;
  return { version: 2, frames: r.ringFrames, frameSize: r.frameSize };
};
/** A worker's slots: room for a batch of frames (and GSO frames of 64 KiB in passthrough). */
const SLOT_BYTES = 4 << 20;
/** Stand-ins that may take dead workers' places before the bridge gives up. */
const MAX_FAILURES_PER_WORKER = 3;

interface Running {
  readonly worker: Worker;
  readonly init: LiveWorkerInit;
  dead: boolean;
  stopped: boolean;
}

/**
 * LiveBridge: the live half of the appliance for one program: per-CPU workers (liveWorker.ts)
 * with AF_PACKET sockets on every interface, in one fanout group per interface; between two
 * interfaces a bridge that applies the program's verdicts, on one a tap that counts them.
 * `start` checks everything a user can get wrong before a socket opens, turns offloads off
 * if asked (and restores them in `stop`, or at the next start after a SIGKILL), then starts
 * the workers and lets them join the fanout groups one after another (so every group has its
 * members in the same order: both directions of a flow on one worker). A worker that dies is
 * replaced by a stand-in that applies the on-error policy to its share of the traffic.
 */
export class LiveBridge {
  readonly #o: LiveOptions;
  readonly #ifaces: LiveIface[];
  readonly #layout: CounterLayout;
  readonly #counters: SharedArrayBuffer;
  readonly #control = new SharedArrayBuffer(CONTROL_WORDS * 4);
  readonly #running: Running[] = [];
  readonly #inits: WorkerInit[];
  readonly #ring: RingSpec;
  readonly #offloads: Offloads;
  readonly #onError: OnError;
  readonly #out?: OutputFiles;
  readonly #warnings: string[] = [];
  readonly #offloadsChanged: string[] = [];
  #failures = 0;
  #prog: ProgObject;
  #stopping = false;
  #t0 = 0n;
  #fatal?: Error;
  #onFatal?: (e: Error) => void;

  private constructor(o: LiveOptions, ifaces: LiveIface[]) {
    this.#o = o;
    this.#prog = o.prog;
    this.#ifaces = ifaces;
    this.#offloads = o.offloads ?? 'off';
    this.#onError = o.onError ?? 'drop';
    this.#ring = { ...ringFor(this.#offloads), ...o.ring };
    this.#layout = new CounterLayout(ifaces.length);
    const blocks = o.workers * (1 + MAX_FAILURES_PER_WORKER);
    this.#counters = new SharedArrayBuffer(blocks * this.#layout.perWorker * 8);
    this.#inits = cpuInits({ ...o, trace: undefined }, o.workers).inits;
    if (o.out) this.#out = openOutputs({ out: o.out }, o.prog.type);
  }

  /** start checks the interfaces and the program, then brings the workers up; it resolves when every socket is open. */
  static async start(o: LiveOptions): Promise<LiveBridge> {
    const ifaces = checkPlan(o.pairs, o.prog);
    const af = loadAfPacket();
    livePermission(af);
    const resolved = ifaces.map((f) => ({ ...f, ifindex: ifindexOf(af, f.name, f.flag) }));
    const b = new LiveBridge(
      o,
      resolved.map(({ name, ifindex, peer }) => ({ name, ifindex, peer, fanoutGroup: fanoutGroup() })),
    );
    try {
      await b.#start();
    } catch (e) {
      await b.stop().catch(() => undefined);
      throw e;
    }
    return b;
  }

  async #start(): Promise<void> {
    const o = this.#o;
    for (const { dev, pid } of leftOff()) {
      this.#warn(`${dev}'s offloads were left off by bpfbox pid ${pid}, which is gone (killed?): restoring them`);
      const said = restoreOffloads(dev);
      if (said) o.log?.(said);
    }
    if (this.#offloads === 'off')
      for (const f of this.#ifaces) {
        o.log?.(offloadsOff(f.name));
        this.#offloadsChanged.push(f.name);
      }
    const workers = this.#inits.map((init, w) => this.#spawn(init, w, 'program'));
    await Promise.all(workers.map((r) => this.#message(r, 'ready')));
    // one after another: every fanout group gets its members in the same order
    for (const r of workers) {
      r.worker.postMessage('open');
      await this.#message(r, 'opened');
    }
    this.#t0 = process.hrtime.bigint();
  }

  /** done: rejects when the bridge can no longer run (more workers died than stand-ins may replace); never resolves otherwise. */
  readonly done: Promise<never> = new Promise((_, reject) => (this.#onFatal = reject));

  /** #spawn starts a worker: the program on CPU `cpu`, or a stand-in applying the on-error policy. */
  #spawn(init: WorkerInit, cpu: number, mode: LiveWorkerInit['live']['mode']): Running {
    const mem = this.#o.kernel.memory;
    const block = this.#running.length;
    const desc = mem.map(LIVE_BATCH * DESC_BYTES, Perm.RW, `live/cpu${cpu}/desc/${block}`);
    const slots = mem.map(SLOT_BYTES, Perm.RW, `live/cpu${cpu}/slots/${block}`);
    const fail = /^cpu(\d+):after:(\d+)$/.exec(process.env.BPFBOX_LIVE_FAULT ?? '');
    const live: LiveWorkerInit = {
      ...init,
      space: mem.snapshot(),
      live: {
        ifaces: this.#ifaces,
        mode,
        offloads: this.#offloads,
        ring: this.#ring,
        qdiscBypass: this.#o.qdiscBypass ?? true,
        counters: this.#counters,
        block,
        control: this.#control,
        desc: desc.start,
        slotAt: slots.start,
        slotEnd: slots.start + slots.size,
        capture: this.#out !== undefined,
        failAfter: fail && mode === 'program' && Number(fail[1]) === cpu ? Number(fail[2]) : undefined,
      },
    };
    const worker = new Worker(new URL('./liveWorker.js', import.meta.url), { workerData: live });
    const r: Running = { worker, init: live, dead: false, stopped: false };
    this.#running.push(r);
    worker.on('message', (m: LiveMessage) => {
      if (m.kind === 'packets') this.#write(m.cpu, m.records, m.n);
      else if (m.kind === 'warning') this.#warn(m.message);
      else if (m.kind === 'stopped') r.stopped = true;
    });
    const died = (why: string) => {
      if (r.dead) return;
      r.dead = true;
      if (!this.#stopping && !r.stopped) this.#failed(r, cpu, why);
    };
    worker.on('error', (e) => died(e.message));
    worker.on('exit', (code) => died(`exited with code ${code}`));
    return r;
  }

  /** #failed: a worker died while the bridge runs: a stand-in takes its sockets' share, as the on-error policy says. */
  #failed(r: Running, cpu: number, why: string): void {
    this.#failures++;
    const policy = this.#onError === 'pass' ? 'forwards its share unexamined' : 'drops its share';
    if (this.#failures > this.#o.workers * MAX_FAILURES_PER_WORKER) {
      this.#fatal = new LiveError(`live: workers failed ${this.#failures} times (last: cpu ${cpu}: ${why}); giving up`);
      this.#onFatal?.(this.#fatal);
      return;
    }
    this.#warn(`worker for cpu ${cpu} failed (${why}); on-error ${this.#onError}: a stand-in ${policy}`);
    const s = this.#spawn(r.init, cpu, this.#onError);
    this.#message(s, 'ready')
      .then(() => {
        if (this.#stopping) return;
        s.worker.postMessage('open');
        return this.#message(s, 'opened');
      })
      .catch((e: Error) => {
        this.#fatal = e;
        this.#onFatal?.(e);
      });
  }

  /** #message waits for a worker to say `kind` (ready, opened); it rejects with the worker's failure, as one line. */
  #message(r: Running, kind: 'ready' | 'opened'): Promise<void> {
    return new Promise((resolve, reject) => {
      const on = (m: LiveMessage) => {
        if (m.kind === kind) done(resolve);
        else if (m.kind === 'failed') done(() => reject(openError(m.message, m.code)));
      };
      const exit = (code: number) => done(() => reject(new LiveError(`live: a worker exited (code ${code}) before it was ${kind}`)));
      const err = (e: Error) =>
        done(() => reject(e instanceof UserError ? e : new LiveError(`live: a worker failed: ${e.message}`, { cause: e })));
      const done = (f: () => void) => {
        r.worker.off('message', on).off('exit', exit).off('error', err);
        f();
      };
      r.worker.on('message', on).on('exit', exit).on('error', err);
    });
  }

  #warn(line: string): void {
    this.#warnings.push(line);
    this.#o.warn?.(line);
  }

  /** #write writes a batch of captured packets (--out). */
  #write(cpu: number, records: ArrayBuffer, n: number): void {
    const out = this.#out;
    if (!out) return;
    const dv = new DataView(records);
    const u8 = new Uint8Array(records);
    let at = 0;
    for (let k = 0; k < n; k++) {
      const w = (f: number) => dv.getUint32(at + f * 4, true);
      const len = w(Rec.LEN);
      const retval = w(Rec.RETVAL) | 0;
      const v = verdictOf(this.#prog.type, retval, w(Rec.WIRE_LEN));
      out.packet(
        {
          data: u8.subarray(at + RECORD_WORDS * 4, at + RECORD_WORDS * 4 + len),
          origLen: w(Rec.WIRE_LEN),
          tsSec: w(Rec.TS_SEC),
          tsNsec: w(Rec.TS_NSEC),
        },
        cpu,
        { retval: v.retval, forward: len > 0 && v.forward },
        undefined,
        (w(Rec.FLAGS) & 1) !== 0,
      );
      at += RECORD_WORDS * 4 + ((len + 3) & ~3);
    }
  }

  /**
   * replace swaps the program the workers run for `prog` (loaded in the same kernel: the maps
   * are shared) at their next batch boundary; it resolves when every running worker has it.
   */
  async replace(prog: ProgObject): Promise<void> {
    checkType(
      prog,
      this.#ifaces.some((f) => f.peer >= 0),
    );
    const cmd: LiveCommand = {
      kind: 'swap',
      progs: exportProgs(this.#o.kernel),
      entry: prog.id,
      batch: runsInBatches({ ...this.#o, prog }),
    };
    const swapped = this.#running
      .filter((r) => !r.dead && r.init.live.mode === 'program')
      .map(
        (r) =>
          new Promise<void>((resolve, reject) => {
            const t = setTimeout(() => reject(new LiveError(`live: cpu ${r.init.cpu} did not take the new program within 10 s`)), 10_000);
            const on = (m: LiveMessage) => {
              if (m.kind !== 'swapped' || m.entry !== prog.id) return;
              clearTimeout(t);
              r.worker.off('message', on);
              resolve();
            };
            r.worker.on('message', on);
            r.worker.postMessage(cmd);
          }),
      );
    await Promise.all(swapped);
    this.#prog = prog;
  }

  /** The program the workers run now. */
  get prog(): ProgObject {
    return this.#prog;
  }

  /** The interfaces, in the bridge's order, with their peers (an index; -1: a tap). */
  get interfaces(): readonly LiveIface[] {
    return this.#ifaces;
  }

  /** summary: the counters now (the workers keep counting). */
  summary(): LiveSummary {
    const c = new Float64Array(this.#counters);
    const L = this.#layout;
    const o = this.#o;
    const n = o.workers;
    const s: LiveSummary = {
      ...emptySummary(this.#prog, n),
      warnings: [...this.#warnings],
      seconds: this.#t0 ? Number(process.hrtime.bigint() - this.#t0) / 1e9 : 0,
      interfaces: Object.fromEntries(
        this.#ifaces.map((f) => [f.name, Object.fromEntries(IFACE_COUNTER_NAMES.map((k) => [k, 0]))]),
      ) as LiveSummary['interfaces'],
      offloads: this.#offloads,
      on_error: this.#onError,
      worker_failures: this.#failures,
      lost_on_failure: 0,
    };
    this.#running.forEach((r, b) => {
      const cpu = r.init.cpu;
      const w = L.worker(b);
      s.busy_seconds[cpu] += c[w + WorkerSlot.BUSY_NS] / 1e9;
      s.errors += c[w + WorkerSlot.FAULTS];
      let outcomes = 0;
      let rx = 0;
      this.#ifaces.forEach((f, i) => {
        const into = s.interfaces[f.name];
        for (const k of IFACE_COUNTER_NAMES) into[k] += c[L.iface(b, i, IfaceSlot[k])];
        rx += c[L.iface(b, i, IfaceSlot.rx)];
        for (const k of ['forwarded', 'tx', 'redirected', 'dropped', 'exception', 'redirect_dropped', 'tapped', 'unrun'] as const)
          outcomes += c[L.iface(b, i, IfaceSlot[k])];
        s.per_cpu[cpu] += c[L.iface(b, i, IfaceSlot.run)];
        s.packets += c[L.iface(b, i, IfaceSlot.run)];
        s.skipped += c[L.iface(b, i, IfaceSlot.unrun)];
      });
      if (r.dead && !r.stopped) s.lost_on_failure += rx - outcomes;
      VERDICT_NAMES.forEach((name, v) => {
        const at = L.verdict(b, v);
        if (!c[at]) return;
        s.verdict_names[name] = (s.verdict_names[name] ?? 0) + c[at];
        s.bytes += c[at + 1];
      });
      for (let rv = 0; rv < RETVALS; rv++) if (c[L.retval(b, rv)]) s.verdicts[rv] = (s.verdicts[rv] ?? 0) + c[L.retval(b, rv)];
      if (c[w + WorkerSlot.OTHER_RETVALS]) s.verdicts.other = (s.verdicts.other ?? 0) + c[w + WorkerSlot.OTHER_RETVALS];
    });
    s.mpps = s.seconds > 0 ? s.packets / s.seconds / 1e6 : 0;
    return s;
  }

  /** stop: the workers finish their batch and close their sockets; offloads are restored; the final counters. */
  async stop(): Promise<LiveSummary> {
    this.#stopping = true;
    Atomics.store(new Int32Array(this.#control), Control.STOP, 1);
    const s = this.summary();
    await Promise.all(
      this.#running.map(
        (r) =>
          new Promise<void>((resolve) => {
            if (r.dead) return resolve();
            const t = setTimeout(() => void r.worker.terminate().then(() => resolve()), 3000);
            r.worker.once('exit', () => (clearTimeout(t), resolve()));
          }),
      ),
    );
    const final = this.summary();
    final.seconds = s.seconds;
    final.mpps = final.seconds > 0 ? final.packets / final.seconds / 1e6 : 0;
    for (const dev of this.#offloadsChanged.splice(0)) {
      try {
        const said = restoreOffloads(dev);
        if (said) this.#o.log?.(said);
      } catch (e) {
        this.#warn(`${dev}: offloads not restored: ${(e as Error).message}`);
      }
    }
    this.#out?.close();
    for (const f of this.#ifaces) releaseFanoutGroup(f.fanoutGroup);
    final.warnings = [...this.#warnings];
    return final;
  }
}
