import { THREAD_CPU, threadCpuNs } from './threadCpu.js';
import type { EngineName } from '../../vm/engine.js';
import { type IngressResult, skbIngress, xdpIngress } from '../../hooks/ingress.js';
import type { LoadedProgram } from '../../hooks/loadedProgram.js';
import { ProgType } from '../../uapi/progType.js';
import { HookRuntime } from '../../hooks/runtime.js';
import { redirectTarget } from '../../hooks/helpers/redirect.js';
import { XdpBatch } from '../../hooks/xdpBatch.js';
import { DESC_WORDS, DescWord } from '../../vm/jit/xdpBatchDriver.js';
import { XDP_MAX_LINEAR } from '../../hooks/testRun.js';
import { XDP_PACKET_HEADROOM } from '../../uapi/xdp.js';
import { AddressSpace } from '../../vm/memory.js';
import { engineByName } from '../../vm/engines.js';
import { BatchTally } from '../../vm/jit/batchTally.js';
import { RecordWalker, STOP_TALLY } from '../../vm/jit/recordWalk.js';
import { BatchLedger } from './batchLedger.js';
import { WindowWalker } from './sources/windowWalk.js';
import { EventTap } from './eventTap.js';
import { importProgs } from './progTransfer.js';
import { type BatchRequest, type BatchResult, OutFlag, type WorkerInit } from './protocol.js';

/**
 * ReplayCpu: what a worker's three ways of running packets share: the shared memory, the
 * program and the HookRuntime of this CPU, the slot a packet run on its own is described in,
 * and, when the pipeline says the program runs in batches (WorkerInit.batch), the XdpBatch,
 * the record walk over it and the tally page they count in. `handle` runs one request.
 */
export class ReplayCpu {
  readonly #init: WorkerInit;
  readonly #space: AddressSpace;
  readonly #prog: LoadedProgram;
  /** Every loaded program, by id (a DEVMAP entry's program runs by its id). */
  readonly #progs: ReturnType<typeof importProgs>;
  readonly #rt: HookRuntime;
  readonly #run: typeof xdpIngress;
  readonly #slot: { hardStart: number; room: number; len: number; wireLen: number; ifindex: number; rxQueue: number; tstamp?: bigint };
  readonly #batch?: XdpBatch;
  readonly #walker?: RecordWalker;
  /** Where batches count verdicts (this CPU's tally page, from cpuRegions). */
  readonly #tallyAt: number;
  /** The clock of a deterministic replay: the running packet's timestamp. */
  #now = 0n;
  readonly #traces: string[] = [];
  readonly #tap?: EventTap;
  /** A streamed pass's windows, read and walked by the workers (made at the first). */
  #windows?: WindowWalker;

  constructor(init: WorkerInit) {
    this.#init = init;
    const space = (this.#space = new AddressSpace(init.space));
    const progs = (this.#progs = importProgs(space, init.progs));
    const prog = (this.#prog = progs.get(init.entry)!);
    const rt = (this.#rt = new HookRuntime(
      { memory: space, progs },
      {
        cpu: init.cpu,
        regions: init.regions,
        routes: init.routes,
        neighbours: init.neighbours,
        devices: init.devices,
        task: init.task,
        ifindexes: init.ifindexes,
        engine: init.engine ? engineByName(init.engine as EngineName) : undefined,
        seed: init.deterministic ? (init.seed ^ Math.imul(init.cpu + 1, 0x9e3779b1)) >>> 0 : undefined,
        clock: init.deterministic ? () => this.#now : undefined,
        trace: init.trace ? (line) => this.#traces.push(line) : undefined,
      },
    ));
    this.#run = prog.type === ProgType.BPF_PROG_TYPE_XDP ? xdpIngress : skbIngress;
    if (init.events?.maps.length) this.#tap = new EventTap(rt, init.events.maps, init.events.keep);
    this.#slot = { hardStart: 0, room: 0, len: 0, wireLen: 0, ifindex: init.ifindex, rxQueue: init.cpu, tstamp: undefined };
    // compiled now, before the worker says it is ready
    const entry = rt.prepare(prog).wasm;
    this.#tallyAt = rt.tally?.start ?? 0;
    if (!init.batch) return;
    if (!entry || !this.#tallyAt) throw new Error('internal: a replay worker for batches was given no compiled program or no tally region');
    this.#batch = new XdpBatch(rt, entry, init.ifindex, !prog.program.writesPacket);
    this.#walker = new RecordWalker(space.memory, this.#batch.packet);
  }

  /**
   * setIngress: the interface the next requests' packets arrived on (xdp_md ingress_ifindex,
   * __sk_buff ifindex): a live bridge runs the packets of each of its interfaces in turn.
   */
  setIngress(ifindex: number): void {
    this.#slot.ifindex = ifindex;
    this.#batch?.setIfindex(ifindex);
  }

  /**
   * runEgress runs program `id`, a DEVMAP entry's (BPF_XDP_DEVMAP), on a redirected frame: the
   * `len` bytes at `start`, copied into this CPU's frame, received on `ingress`, leaving by
   * `egress` (xdp_md egress_ifindex), as dev_map_bpf_prog_run does before the frame is sent.
   * It returns r0 and where the frame is now (in the CPU's frame: the caller copies it out
   * before the next run), or the fault's message.
   */
  runEgress(
    id: number,
    start: number,
    len: number,
    ingress: number,
    egress: number,
  ): { retval: number; start: number; len: number } | { fault: string } {
    const prog = this.#progs.get(id);
    if (!prog) return { fault: `no program with id ${id}` };
    const frame = this.#rt.frame;
    if (len > XDP_MAX_LINEAR)
      return { fault: `a ${len}-byte frame is longer than a devmap program's linear frame here (${XDP_MAX_LINEAR})` };
    this.#space.u8.copyWithin(frame.start + XDP_PACKET_HEADROOM, start, start + len);
    try {
      const r = xdpIngress(this.#rt, prog, {
        hardStart: frame.start,
        room: frame.size,
        len,
        wireLen: len,
        ifindex: ingress,
        rxQueue: this.#init.cpu,
        egressIfindex: egress,
      });
      return { retval: r.retval, start: r.start, len: r.len };
    } catch (e) {
      return { fault: e instanceof Error ? e.message : String(e) };
    }
  }

  /** handle runs a request: its descriptors (in batches as far as they go) or its records. */
  handle(req: BatchRequest): BatchResult {
    const { desc } = req;
    let { n } = req;
    this.#space.refresh();
    const t0 = process.hrtime.bigint();
    const c0 = THREAD_CPU ? threadCpuNs() : 0;
    const win = req.window;
    // a streamed window: read and walked here or by another worker, then this worker's packets of it run as descriptors
    const walked = win ? (this.#windows ??= new WindowWalker(this.#space)).prepare(win, req.id) : undefined;
    if (walked) n = walked.n;
    const b = new BatchLedger(this.#prog.type, n, req.tally);
    const i32 = this.#space.i32;
    if (req.records && !this.#walker) throw new Error('internal: records sent to a worker that does not batch');
    if (req.records) this.#runRecords(this.#walker!, b, req.records);
    else
      for (let i = 0; i < n; ) {
        if (this.#batch) {
          // the batch stops before a packet it does not take (multi-buffer) and after one that threw
          i = this.#runBatched(this.#batch, b, desc, i, n);
          if (i >= n) break;
        }
        this.#runOne(b, i32, (desc >> 2) + i * DESC_WORDS, i);
        i++;
      }
    if (this.#batch && !b.perPacket && !req.records) b.fromTally(this.#space.view, this.#tallyAt);
    if (win) this.#windows!.finish(win, req.id);
    const r0 = b.result(req.id, Number(process.hrtime.bigint() - t0), this.#traces.splice(0));
    const res = walked?.report ? { ...r0, walk: walked.report } : r0;
    const events = this.#tap?.take();
    const cpu = THREAD_CPU ? { cpu: { start: c0, end: threadCpuNs() } } : undefined;
    return events || cpu ? { ...res, ...(events ? { events } : {}), ...cpu } : res;
  }

  /** #runOne runs packet `i` of a batch (its descriptor at word `d`) on its own: the per-packet path. */
  #runOne(b: BatchLedger, i32: Int32Array, d: number, i: number): void {
    const hs = i32[d + DescWord.HARD_START];
    const s = this.#slot;
    s.hardStart = hs || this.#rt.frame.start;
    s.room = hs ? i32[d + DescWord.ROOM] : this.#rt.frame.size;
    s.len = i32[d + DescWord.LEN];
    s.wireLen = i32[d + DescWord.WIRE_LEN];
    // the return value goes back in the descriptor, as a batch's does (0 for a run that faulted)
    i32[d + DescWord.RET] = this.#runSlot(b, i, i32[d + DescWord.SRC], i32[d + DescWord.TS_SEC], i32[d + DescWord.TS_NSEC]);
  }

  /**
   * #runSlot runs the packet the slot describes through xdpIngress or skbIngress (its bytes
   * copied from `src` into the slot first, unless 0), at time (`tsSec`, `tsNsec`).
   */
  #runSlot(b: BatchLedger, i: number, src: number, tsSec: number, tsNsec: number): number {
    const s = this.#slot;
    if (src) this.#space.u8.copyWithin(s.hardStart + XDP_PACKET_HEADROOM, src, src + s.len);
    if (this.#init.deterministic) s.tstamp = this.#now = BigInt(tsSec >>> 0) * 1_000_000_000n + BigInt(tsNsec);
    let r: IngressResult;
    try {
      if (b.sampled(i)) {
        const t = process.hrtime.bigint();
        r = this.#run(this.#rt, this.#prog, s);
        b.sample(i, i + 1, Number(process.hrtime.bigint() - t));
      } else r = this.#run(this.#rt, this.#prog, s);
    } catch (e) {
      fault(b, i, s.hardStart + XDP_PACKET_HEADROOM, s.len, e);
      return 0;
    }
    let flags = 0;
    if (r.redirect || r.tail || r.clones) {
      flags = OutFlag.EXTRA;
      b.extra({
        i,
        tail: r.tail,
        clones: r.clones?.length,
        redirect: r.redirect ? describeRedirect(r.redirect) : undefined,
        to: r.redirect ? redirectTarget(this.#rt, r.redirect) : undefined,
      });
    }
    b.add(i, r, flags);
    return r.retval;
  }

  /** #runBatched runs packets [i, n) through the XdpBatch as far as it goes; it returns where it stopped. */
  #runBatched(xb: XdpBatch, b: BatchLedger, desc: number, i: number, n: number): number {
    const i32 = this.#space.i32;
    const t = process.hrtime.bigint();
    // a tallied batch counts its verdicts in Wasm, all but return values of 8 and more
    const tally = b.perPacket ? 0 : this.#tallyAt;
    const others = tally ? i32[(tally + BatchTally.OTHERS) >> 2] : 0;
    let done: number;
    try {
      done = xb.run(desc, i, n, tally);
    } catch (e) {
      // the packet that threw faulted; those before it ran
      done = xb.current;
      this.#batched(b, desc, i, done, true);
      const d = (desc >> 2) + done * DESC_WORDS;
      fault(b, done, this.#ranAt(i32, d), i32[d + DescWord.LEN], e);
      return done + 1;
    }
    const each = done > i ? Number(process.hrtime.bigint() - t) / (done - i) : 0;
    this.#batched(b, desc, i, done, tally !== 0 && i32[(tally + BatchTally.OTHERS) >> 2] !== others);
    b.sample(i, done, each);
    return done;
  }

  /**
   * #batched writes down the batched runs [i, done) of the descriptors at `desc`: each one when
   * the request is per packet, else (`others`: some returned 8 or more) those the batch did
   * not count.
   */
  #batched(b: BatchLedger, desc: number, i: number, done: number, others: boolean): void {
    const i32 = this.#space.i32;
    const d0 = desc >> 2;
    if (b.perPacket) {
      for (let k = i; k < done; k++) {
        const d = d0 + k * DESC_WORDS;
        b.add(k, { retval: i32[d + DescWord.RET], start: this.#ranAt(i32, d), len: i32[d + DescWord.LEN] });
      }
    } else if (others) {
      for (let k = i; k < done; k++) {
        const d = d0 + k * DESC_WORDS;
        const r = i32[d + DescWord.RET] >>> 0;
        if (r >= BatchTally.VALUES) b.add(k, { retval: r, start: 0, len: i32[d + DescWord.LEN] });
      }
    }
  }

  /** #ranAt: where the batched packet of descriptor word `d` ran: where it lay (in place), else its slot, else the CPU's frame. */
  #ranAt(i32: Int32Array, d: number): number {
    const hs = i32[d + DescWord.HARD_START];
    const src = i32[d + DescWord.SRC];
    return src && this.#batch!.inPlace ? src : (hs || this.#rt.frame.start) + XDP_PACKET_HEADROOM;
  }

  /**
   * #runRecords runs the pcap records from `start` to `end` that hash to this worker (vm/jit/recordWalk.ts);
   * what the walk leaves (multi-buffer frames, return values of 8 and up, faults) is done here.
   */
  #runRecords(w: RecordWalker, b: BatchLedger, { start, end, workers }: NonNullable<BatchRequest['records']>): void {
    const dv = this.#space.view;
    const s = this.#slot;
    const t = process.hrtime.bigint();
    let p = start;
    let extra = 0;
    while (p < end) {
      try {
        p = w.walk(p, end, workers, this.#init.cpu, this.#tallyAt, XDP_MAX_LINEAR);
      } catch (e) {
        p = w.current;
        const len = dv.getUint32(p + 8, true);
        fault(b, extra++, p + 16, len, e);
        p += 16 + len;
        continue;
      }
      this.#batch!.checkStop();
      if (p >= end) break;
      const len = dv.getUint32(p + 8, true);
      if (w.stop === STOP_TALLY) b.add(extra++, { retval: w.ret, start: p + 16, len });
      else {
        s.hardStart = this.#rt.frame.start;
        s.room = this.#rt.frame.size;
        s.len = len;
        s.wireLen = Math.max(len, dv.getUint32(p + 12, true));
        this.#runSlot(b, extra++, p + 16, dv.getUint32(p, true), dv.getUint32(p + 4, true));
      }
      p += 16 + len;
    }
    const packets = b.fromTally(dv, this.#tallyAt);
    // the run-time histogram: the walk's mean
    b.sample(0, packets, packets ? Number(process.hrtime.bigint() - t) / (packets + extra) : 0);
  }
}

/** fault writes down packet `i`'s run as faulted: `len` bytes at `start`, the error's message. */
function fault(b: BatchLedger, i: number, start: number, len: number, e: unknown): void {
  b.add(i, { retval: 0, start, len }, OutFlag.FAULT | OutFlag.EXTRA);
  b.extra({ i, fault: e instanceof Error ? e.message : String(e) });
}

function describeRedirect(r: NonNullable<IngressResult['redirect']>): string {
  if ('kind' in r) return r.kind === 'map' ? `map id ${r.mapId} key ${r.target}` : `ifindex ${r.target}`;
  return `ifindex ${r.ifindex}${r.ingress ? ' ingress' : ''}`;
}
