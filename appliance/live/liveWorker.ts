import '../datapath/eagerWasm.js';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { AddressSpace } from '../../vm/memory.js';
import { XDP_PACKET_HEADROOM, XdpAction } from '../../uapi/xdp.js';
import { DESC_WORDS, DescWord } from '../../vm/jit/xdpBatchDriver.js';
import { ReplayCpu } from '../datapath/replayCpu.js';
import { type BatchResult, OUT_FIELDS, Out, OutFlag, type PacketExtra } from '../datapath/protocol.js';
import { CounterLayout, IfaceSlot, RETVALS, VERDICT_NAMES, WorkerSlot } from './counters.js';
import { Control, LIVE_BATCH, type LiveCommand, type LiveMessage, type LiveWorkerInit, RECORD_WORDS, Rec } from './liveProtocol.js';
import { type AfPacket, type HandleStats, loadAfPacket } from './native.js';
import { OUTCOME_COUNTER, Outcome, XDP_OUTCOMES, outcomeOf, redirectEgress } from './outcome.js';

// A live worker: one emulated CPU with its own AF_PACKET sockets, one per interface the
// bridge manages, each in that interface's fanout group (PACKET_FANOUT_HASH: both directions
// of a flow come to the same worker). In a loop until the main thread sets Control.STOP: take
// a batch of frames from a ring into this worker's slots in the shared memory (the native
// module copies them there: no per-packet JavaScript callback), run them through the program
// as a replay runs a batch (ReplayCpu), and send each on as its verdict says (outcome.ts), in
// one sendmmsg per egress interface. Counters go to the shared counter page after each batch
// (counters.ts), so the main thread reads them at any time and they outlive the worker.

const init = workerData as LiveWorkerInit;
const L = init.live;
const post = (m: LiveMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

class LiveCpu {
  readonly #af: AfPacket;
  #cpu?: ReplayCpu;
  readonly #space: AddressSpace;
  readonly #c = new Float64Array(L.counters);
  readonly #layout = new CounterLayout(L.ifaces.length);
  readonly #control = new Int32Array(L.control);
  readonly #handles: number[] = [];
  readonly #byIfindex = new Map(L.ifaces.map((f, i) => [f.ifindex, i]));
  /** Per egress interface: [addr, len, vnetAt] triples for send(), and how many. */
  readonly #lists = L.ifaces.map(() => new Int32Array(3 * LIVE_BATCH));
  readonly #counts = new Int32Array(L.ifaces.length);
  readonly #verdictIndex = new Map<string, number>(VERDICT_NAMES.map((n, i) => [n, i]));
  #seen = 0;
  /** The program runs in batches (WorkerInit.batch; a swap may change it). */
  #batched = init.batch;
  #progType = init.progs.find((p) => p.id === init.entry)!.type;

  constructor() {
    this.#af = loadAfPacket();
    this.#space = new AddressSpace(init.space);
    if (L.mode === 'program') this.#cpu = new ReplayCpu(init);
  }

  /** open opens this worker's sockets, in the bridge's interface order (fanout members in the same order everywhere). */
  open(): void {
    for (const f of L.ifaces)
      this.#handles.push(
        this.#af.open(f.name, {
          fanoutGroup: f.fanoutGroup,
          ringFrames: L.ring.frames,
          frameSize: L.ring.frameSize,
          version: L.ring.version,
          offloads: L.offloads,
          qdiscBypass: L.qdiscBypass,
          promisc: true,
        }),
      );
  }

  /** loop runs until Control.STOP, then closes the sockets. */
  loop(): void {
    const af = this.#af;
    let idle = false;
    try {
      while (Atomics.load(this.#control, Control.STOP) === 0) {
        for (let m = receiveMessageOnPort(parentPort!); m; m = receiveMessageOnPort(parentPort!)) this.#command(m.message as LiveCommand);
        if (idle) {
          // nothing came: the counters of every socket (the kernel's drops go on), then wait for frames
          for (let k = 0; k < this.#handles.length; k++) this.#syncStats(k);
          af.poll(this.#handles, 20);
        }
        idle = true;
        for (let k = 0; k < this.#handles.length; k++) {
          this.#space.refresh();
          const n = af.rx(this.#handles[k], this.#space.u8, L.desc, LIVE_BATCH, L.slotAt, L.slotEnd);
          if (!n) continue;
          this.#syncStats(k);
          idle = false;
          this.#seen += n;
          if (L.failAfter !== undefined && this.#seen >= L.failAfter) throw new Error(`injected fault after ${this.#seen} frames`);
          this.#batch(k, n);
          this.#flush();
        }
      }
    } finally {
      for (let k = 0; k < this.#handles.length; k++) this.#syncStats(k);
      for (const h of this.#handles) af.close(h);
    }
  }

  /** #command: a swap replaces the program at this batch boundary (the maps are shared: nothing else changes). */
  #command(c: LiveCommand): void {
    if (c.kind !== 'swap' || L.mode !== 'program') return;
    const next = { ...init, progs: c.progs, entry: c.entry, batch: c.batch };
    this.#cpu = new ReplayCpu(next);
    this.#progType = c.progs.find((p) => p.id === c.entry)!.type;
    this.#batched = c.batch;
    post({ kind: 'swapped', entry: c.entry });
  }

  /** #syncStats copies the native counters of interface k's socket into the page (they are cumulative). */
  #syncStats(k: number): void {
    const s: HandleStats = this.#af.stats(this.#handles[k]);
    const at = (c: number) => this.#layout.iface(L.block, k, c);
    const c = this.#c;
    c[at(IfaceSlot.rx)] = s.rxFrames;
    c[at(IfaceSlot.rx_bytes)] = s.rxBytes;
    c[at(IfaceSlot.kernel_drops)] = s.kernelDrops;
    c[at(IfaceSlot.truncated)] = s.truncated;
    c[at(IfaceSlot.oversized)] = s.oversized;
    c[at(IfaceSlot.vlan_restored)] = s.vlanRestored;
    c[at(IfaceSlot.csum_completed)] = s.csumCompleted;
    c[at(IfaceSlot.segmented)] = s.segmented;
    c[at(IfaceSlot.sent)] = s.txFrames;
    c[at(IfaceSlot.sent_bytes)] = s.txBytes;
    c[at(IfaceSlot.send_errors)] = s.txErrors;
    c[at(IfaceSlot.send_retries)] = s.txRetries;
  }

  /** #batch runs the n frames interface k's ring gave and queues each where its verdict sends it. */
  #batch(k: number, n: number): void {
    const f = L.ifaces[k];
    const c = this.#c;
    const ctr = (slot: number, by = 1) => (c[this.#layout.iface(L.block, k, slot)] += by);
    const i32 = this.#space.i32;
    const d0 = L.desc >> 2;
    const vnet = L.offloads === 'passthrough';
    const cpu = this.#cpu;
    if (!cpu) {
      // an on-error stand-in: pass unexamined, or drop
      for (let i = 0; i < n; i++) {
        const d = d0 + i * DESC_WORDS;
        const hs = i32[d + DescWord.HARD_START];
        if (L.mode === 'pass' && f.peer >= 0) this.#queue(f.peer, hs + XDP_PACKET_HEADROOM, i32[d + DescWord.LEN], vnet ? hs : 0);
      }
      ctr(IfaceSlot.unrun, n);
      return;
    }
    cpu.setIngress(f.ifindex);
    // a batched XDP program: counted by verdict in Wasm, each frame's verdict read back from its descriptor
    if (this.#batched && !L.capture && f.peer >= 0) return this.#batchFast(k, n, cpu);
    const res = cpu.handle({ id: 0, desc: L.desc, n, tally: false });
    const outcomes = this.#count(res);
    ctr(IfaceSlot.run, n);
    const out = res.results!;
    const extras = new Map<number, PacketExtra>();
    for (const e of res.extras) extras.set(e.i, e);
    const tap = f.peer < 0;
    const capture = L.capture ? new Capture(n) : undefined;
    for (let i = 0; i < n; i++) {
      const o = i * OUT_FIELDS;
      const flags = out[o + Out.FLAGS];
      const row = out[o + Out.ROW];
      const start = out[o + Out.START];
      let len = out[o + Out.LEN];
      const extra = flags & OutFlag.EXTRA ? extras.get(i) : undefined;
      const d = d0 + i * DESC_WORDS;
      const hs = i32[d + DescWord.HARD_START];
      if (extra?.tail) {
        // bytes past the linear part (a multi-buffer frame): put back after the data, if the slot holds them
        if (start + len + extra.tail.length <= hs + i32[d + DescWord.ROOM]) {
          this.#space.u8.set(extra.tail, start + len);
          len += extra.tail.length;
        } else {
          // it cannot go out whole: dropped, as the kernel drops what it cannot send
          ctr(IfaceSlot.exception);
          continue;
        }
      }
      capture?.add(
        res.tally[row],
        out[o + Out.KEPT],
        i32[d + DescWord.WIRE_LEN],
        i32[d + DescWord.TS_SEC],
        i32[d + DescWord.TS_NSEC],
        flags,
        this.#space.u8,
        start,
      );
      if (tap) {
        ctr(IfaceSlot.tapped);
        continue;
      }
      const oc = flags & OutFlag.FAULT ? Outcome.EXCEPTION : outcomes[row];
      let egress = -1;
      if (oc === Outcome.FORWARD) egress = f.peer;
      else if (oc === Outcome.TX) egress = k;
      else if (oc === Outcome.REDIRECT) {
        egress = redirectEgress(extra?.to, this.#byIfindex, f.peer);
        const prog = extra?.to && 'prog' in extra.to ? extra.to.prog : undefined;
        if (egress >= 0 && prog) {
          // the DEVMAP entry's own program runs first (dev_map_bpf_prog_run): XDP_PASS sends the frame as it leaves it
          const r = cpu.runEgress(prog, start, len, f.ifindex, L.ifaces[egress].ifindex);
          if ('fault' in r || r.retval !== XdpAction.XDP_PASS || r.len > i32[d + DescWord.ROOM] - XDP_PACKET_HEADROOM) {
            ctr(IfaceSlot.redirect_dropped);
            continue;
          }
          this.#space.u8.copyWithin(hs + XDP_PACKET_HEADROOM, r.start, r.start + r.len);
          ctr(OUTCOME_COUNTER[oc]);
          this.#queue(egress, hs + XDP_PACKET_HEADROOM, r.len, vnet ? hs : 0);
          continue;
        }
        if (egress < 0) {
          ctr(IfaceSlot.redirect_dropped);
          continue;
        }
      }
      ctr(OUTCOME_COUNTER[oc]);
      if (egress >= 0) this.#queue(egress, start, len, vnet ? hs : 0);
    }
    if (capture) post({ kind: 'packets', cpu: init.cpu, iface: k, records: capture.buffer, n: capture.n }, [capture.buffer]);
  }

  /** #count adds a request's verdict rows to the page; it returns each row's outcome. */
  #count(res: BatchResult): Outcome[] {
    const c = this.#c;
    const w = this.#layout.worker(L.block);
    c[w + WorkerSlot.BUSY_NS] += res.ns;
    c[w + WorkerSlot.BATCHES]++;
    const outcomes: Outcome[] = [];
    for (const row of res.tally) {
      const v = this.#verdictIndex.get(row.name);
      if (v !== undefined) {
        const at = this.#layout.verdict(L.block, v);
        c[at] += row.packets;
        c[at + 1] += row.bytes;
        c[at + 2] += row.faults;
      }
      const r = row.retval;
      if (r >= 0 && r < RETVALS) c[this.#layout.retval(L.block, r)] += row.packets;
      else c[w + WorkerSlot.OTHER_RETVALS] += row.packets;
      c[w + WorkerSlot.FAULTS] += row.faults;
      outcomes.push(outcomeOf(this.#progType, row.retval, false));
    }
    return outcomes;
  }

  /**
   * #batchFast: the frames of a batched XDP program (no redirect, no head or tail moved: the
   * batch takes no program that could): each frame where rx put it, its verdict in its
   * descriptor's RET, the counts by verdict from the Wasm tally; faults from the extras.
   */
  #batchFast(k: number, n: number, cpu: ReplayCpu): void {
    const f = L.ifaces[k];
    const c = this.#c;
    const res = cpu.handle({ id: 0, desc: L.desc, n, tally: true });
    this.#count(res);
    const i32 = this.#space.i32;
    const d0 = L.desc >> 2;
    const vnet = L.offloads === 'passthrough';
    const faulted = res.extras.length ? new Set(res.extras.filter((e) => e.fault !== undefined).map((e) => e.i)) : undefined;
    const by = new Int32Array(OUTCOME_COUNTER.length);
    let redirectDropped = 0;
    for (let i = 0; i < n; i++) {
      const d = d0 + i * DESC_WORDS;
      const ret = i32[d + DescWord.RET] >>> 0;
      const oc = faulted?.has(i) ? Outcome.EXCEPTION : ret < XDP_OUTCOMES.length ? XDP_OUTCOMES[ret] : Outcome.EXCEPTION;
      if (oc === Outcome.REDIRECT) {
        // XDP_REDIRECT with no target (a batched program calls no redirect helper): the kernel drops it
        redirectDropped++;
        continue;
      }
      by[oc]++;
      const egress = oc === Outcome.FORWARD ? f.peer : oc === Outcome.TX ? k : -1;
      const hs = i32[d + DescWord.HARD_START];
      if (egress >= 0) this.#queue(egress, hs + XDP_PACKET_HEADROOM, i32[d + DescWord.LEN], vnet ? hs : 0);
    }
    const at = (slot: number) => this.#layout.iface(L.block, k, slot);
    c[at(IfaceSlot.run)] += n;
    c[at(IfaceSlot.redirect_dropped)] += redirectDropped;
    for (let o = 0; o < by.length; o++) if (by[o]) c[at(OUTCOME_COUNTER[o])] += by[o];
  }

  #queue(egress: number, addr: number, len: number, vnetAt: number): void {
    const j = this.#counts[egress]++ * 3;
    const l = this.#lists[egress];
    l[j] = addr;
    l[j + 1] = len;
    l[j + 2] = vnetAt;
  }

  /** #flush sends what the batch queued, one sendmmsg run per egress interface, and counts it there. */
  #flush(): void {
    for (let e = 0; e < this.#counts.length; e++) {
      if (!this.#counts[e]) continue;
      this.#af.send(this.#handles[e], this.#space.u8, this.#lists[e], this.#counts[e]);
      this.#counts[e] = 0;
      this.#syncStats(e);
    }
  }
}

/** Capture: one batch's packets for --out, as CapturedRecords in one buffer (liveProtocol.ts). */
class Capture {
  readonly buffer: ArrayBuffer;
  readonly #u8: Uint8Array;
  readonly #dv: DataView;
  #at = 0;
  n = 0;
  constructor(frames: number) {
    this.buffer = new ArrayBuffer(frames * (RECORD_WORDS * 4 + 4) + (L.slotEnd - L.slotAt));
    this.#u8 = new Uint8Array(this.buffer);
    this.#dv = new DataView(this.buffer);
  }
  add(
    row: { retval: number; name: string },
    kept: number,
    wireLen: number,
    tsSec: number,
    tsNsec: number,
    flags: number,
    mem: Uint8Array,
    start: number,
  ): void {
    const dv = this.#dv;
    const w = (k: number, v: number) => dv.setUint32(this.#at + k * 4, v >>> 0, true);
    w(Rec.VERDICT, VERDICT_NAMES.indexOf(row.name as (typeof VERDICT_NAMES)[number]));
    w(Rec.RETVAL, row.retval);
    w(Rec.LEN, kept);
    w(Rec.WIRE_LEN, Math.max(wireLen, kept));
    w(Rec.TS_SEC, tsSec);
    w(Rec.TS_NSEC, tsNsec);
    w(Rec.FLAGS, flags);
    this.#u8.set(mem.subarray(start, start + kept), this.#at + RECORD_WORDS * 4);
    this.#at += RECORD_WORDS * 4 + ((kept + 3) & ~3);
    this.n++;
  }
}

let cpu: LiveCpu;
try {
  cpu = new LiveCpu();
} catch (e) {
  post({ kind: 'failed', message: e instanceof Error ? e.message : String(e), code: (e as { code?: string }).code });
  throw e;
}
post({ kind: 'ready' });
parentPort!.once('message', () => {
  try {
    cpu.open();
  } catch (e) {
    post({ kind: 'failed', message: e instanceof Error ? e.message : String(e), code: (e as { code?: string }).code });
    return;
  }
  post({ kind: 'opened' });
  cpu.loop();
  post({ kind: 'stopped' });
  parentPort!.close();
});
