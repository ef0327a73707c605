import type { EngineName } from '../../vm/engine.js';
import { setFlagsFromString } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { type IngressResult, skbIngress, xdpIngress } from '../../hooks/ingress.js';
import { ProgType } from '../../uapi/progType.js';
import { HookRuntime } from '../../hooks/runtime.js';
import { verdictOf } from '../../hooks/verdict.js';
import { BatchTally, DESC_WORDS, DescWord, XdpBatch, xdpBatchable } from '../../hooks/xdpBatch.js';
import { XDP_MAX_LINEAR } from '../../hooks/testRun.js';
import { XDP_PACKET_HEADROOM } from '../../uapi/xdp.js';
import { AddressSpace } from '../../vm/memory.js';
import { engineByName } from '../../vm/engines.js';
import { importProgs } from './progTransfer.js';
import { RecordWalker, STOP_TALLY } from './recordWalk.js';
import { type BatchRequest, type BatchResult, OUT_FIELDS, Out, OutFlag, type PacketExtra, type TallyRow, type WorkerInit } from './protocol.js';

// A replay worker: one emulated CPU. It attaches to the shared memory, rebuilds the loaded
// programs, and runs each batch of packets the main thread placed in its ingress buffer:
// a JIT-compiled XDP program whose helpers allow it many packets per call into WebAssembly
// (hooks/xdpBatch.ts), anything else one packet at a time.
//
// A worker runs its program millions of times, so V8 compiles the WebAssembly here, before the
// worker says it is ready, and with its optimizing compiler: left to itself, V8 compiles a
// function on its first call with its baseline compiler and optimizes it on a helper thread
// once it is hot, part-way through the pass and on a core the other worker needs (with two
// workers on two cores the first pass ran at ~1.4x one worker's rate this way, ~1.8x after).
// V8's flags are the process's: Wasm compiled in this process later is compiled the same way.
setFlagsFromString('--no-liftoff');
setFlagsFromString('--no-wasm-lazy-compilation');
const init = workerData as WorkerInit;
const space = new AddressSpace(init.space);
const progs = importProgs(space, init.progs);
const prog = progs.get(init.entry)!;
let now = 0n;
const traces: string[] = [];
const rt = new HookRuntime({ memory: space, progs }, {
  cpu: init.cpu, regions: init.regions, routes: init.routes, neighbours: init.neighbours, devices: init.devices, ifindexes: init.ifindexes,
  engine: init.engine ? engineByName(init.engine as EngineName) : undefined,
  seed: init.deterministic ? (init.seed ^ Math.imul(init.cpu + 1, 0x9e3779b1)) >>> 0 : undefined,
  clock: init.deterministic ? () => now : undefined,
  trace: init.trace ? (line) => traces.push(line) : undefined,
});
const xdp = prog.type === ProgType.BPF_PROG_TYPE_XDP;
const run = xdp ? xdpIngress : skbIngress;
const slot = { hardStart: 0, room: 0, len: 0, wireLen: 0, ifindex: init.ifindex, rxQueue: init.cpu, tstamp: undefined as bigint | undefined };
const entry = rt.prepare(prog).wasm;
const batch = xdp && entry && !init.trace && xdpBatchable(prog.program, init.deterministic) ? new XdpBatch(rt, entry, init.ifindex, !prog.program.writesPacket) : undefined;
const walker = batch ? new RecordWalker(space.memory, batch.packet) : undefined;
/** Where batches count verdicts (this CPU's tally page, from cpuRegions). */
const tallyAt = rt.tally?.start ?? 0;
if (batch && !tallyAt) throw new Error('internal: a replay worker for batches was given no tally region');

/** Batch: one request's bookkeeping: per packet results, or the tally. */
class Batch {
  readonly results?: Int32Array;
  readonly extras: PacketExtra[] = [];
  readonly samples: number[] = [];
  readonly #rows = new Map<string, TallyRow>();
  // XDP verdicts of batched runs, by return value (below 8), before they become rows
  readonly #fast = new Float64Array(16);

  constructor(n: number, tally: boolean) {
    if (!tally) this.results = new Int32Array(n * OUT_FIELDS);
  }

  add(i: number, retval: number, start: number, len: number, flags: number): void {
    const o = i * OUT_FIELDS;
    const r = this.results;
    if (r) {
      r[o + Out.RETVAL] = retval;
      r[o + Out.START] = start;
      r[o + Out.LEN] = len;
      r[o + Out.FLAGS] = flags;
      return;
    }
    const faulted = (flags & OutFlag.FAULT) !== 0;
    if (xdp && !faulted && retval >>> 0 < 8) {
      this.#fast[retval * 2]++;
      this.#fast[retval * 2 + 1] += len;
      return;
    }
    const v = verdictOf(prog.type, retval, len, faulted);
    this.#row(v.retval, v.name, 1, v.keep !== undefined && v.keep < len ? v.keep : len, faulted ? 1 : 0);
  }

  /** addMany counts `packets` batched XDP runs that returned `retval` (below 8), `bytes` in all. */
  addMany(retval: number, packets: number, bytes: number): void {
    this.#fast[retval * 2] += packets;
    this.#fast[retval * 2 + 1] += bytes;
  }

  /** others counts the batched runs [i, done) of the descriptors at word `d0` that returned 8 or more (XDP: the length did not change). */
  others(i32: Int32Array, d0: number, i: number, done: number): void {
    for (let k = i; k < done; k++) {
      const d = d0 + k * DESC_WORDS;
      const r = i32[d + DescWord.RET] >>> 0;
      if (r >= 8) this.add(k, r, 0, i32[d + DescWord.LEN], 0);
    }
  }

  /** fromTally adds what batches or a record walk counted at `at` (BatchTally), clears it and returns how many packets that was. */
  fromTally(dv: DataView, at: number): number {
    let packets = 0;
    for (let r = 0; r < 8; r++) {
      const n = Number(dv.getBigUint64(at + r * 16, true));
      packets += n;
      if (n) this.addMany(r, n, Number(dv.getBigUint64(at + r * 16 + 8, true)));
    }
    for (let k = 0; k < BatchTally.BYTES; k += 8) dv.setBigUint64(at + k, 0n, true);
    return packets;
  }

  #row(retval: number, name: string, packets: number, bytes: number, faults: number): void {
    const key = `${retval}/${name}`;
    let row = this.#rows.get(key);
    if (!row) this.#rows.set(key, (row = { retval, name, packets: 0, bytes: 0, faults: 0 }));
    row.packets += packets;
    row.bytes += bytes;
    row.faults += faults;
  }

  tally(): TallyRow[] | undefined {
    if (this.results) return undefined;
    for (let r = 0; r < 8; r++) if (this.#fast[r * 2]) this.#row(r, verdictOf(prog.type, r, 0).name, this.#fast[r * 2], this.#fast[r * 2 + 1], 0);
    return [...this.#rows.values()];
  }
}

/** runOne runs packet `i` of a batch (its descriptor at word `d`) on its own: the per-packet path. */
function runOne(b: Batch, i32: Int32Array, d: number, i: number): void {
  const hs = i32[d + DescWord.HARD_START];
  runPacket(b, i, hs, hs ? i32[d + DescWord.ROOM] : 0, i32[d + DescWord.LEN], i32[d + DescWord.WIRE_LEN], i32[d + DescWord.SRC], i32[d + DescWord.TS_SEC], i32[d + DescWord.TS_NSEC]);
}

/** runPacket runs one packet through xdpIngress or skbIngress: in its slot (hardStart, room), or copied from `src` into the CPU's frame. */
function runPacket(b: Batch, i: number, hardStart: number, room: number, len: number, wireLen: number, src: number, tsSec: number, tsNsec: number): void {
  slot.hardStart = hardStart || rt.frame.start;
  slot.room = hardStart ? room : rt.frame.size;
  slot.len = len;
  slot.wireLen = wireLen;
  if (src) space.u8.copyWithin(slot.hardStart + XDP_PACKET_HEADROOM, src, src + len);
  if (init.deterministic) slot.tstamp = now = BigInt(tsSec >>> 0) * 1_000_000_000n + BigInt(tsNsec);
  let r: IngressResult;
  try {
    if ((i & 63) === 0) {
      const t = process.hrtime.bigint();
      r = run(rt, prog, slot);
      b.samples.push(Number(process.hrtime.bigint() - t));
    } else r = run(rt, prog, slot);
  } catch (e) {
    fault(b, i, slot.hardStart + XDP_PACKET_HEADROOM, slot.len, e);
    return;
  }
  let flags = 0;
  if (r.redirect || r.tail || r.clones) {
    flags = OutFlag.EXTRA;
    b.extras.push({ i, tail: r.tail, clones: r.clones?.length, redirect: r.redirect ? describeRedirect(r.redirect) : undefined });
  }
  b.add(i, r.retval, r.start, r.len + (b.results ? 0 : r.tail?.length ?? 0), flags);
}

function fault(b: Batch, i: number, start: number, len: number, e: unknown): void {
  b.add(i, 0, start, len, OutFlag.FAULT | OutFlag.EXTRA);
  b.extras.push({ i, fault: e instanceof Error ? e.message : String(e) });
}

/** runBatched runs packets [i, n) through the XdpBatch as far as it goes; it returns where it stopped. */
function runBatched(xb: XdpBatch, b: Batch, i32: Int32Array, desc: number, i: number, n: number): number {
  const t = process.hrtime.bigint();
  // a tallied batch counts its verdicts in Wasm, all but return values of 8 and more
  const tally = b.results ? 0 : tallyAt;
  const others = tally ? i32[(tally + BatchTally.OTHERS) >> 2] : 0;
  let done: number;
  try {
    done = xb.run(desc, i, n, tally);
  } catch (e) {
    // the packet that threw faulted; those before it ran
    done = xb.current;
    const d = (desc >> 2) + done * DESC_WORDS;
    if (b.results) for (let k = i; k < done; k++) batchedResult(b, i32, (desc >> 2) + k * DESC_WORDS, k);
    else b.others(i32, desc >> 2, i, done);
    fault(b, done, ranAt(i32, d), i32[d + DescWord.LEN], e);
    return done + 1;
  }
  const each = done > i ? Number(process.hrtime.bigint() - t) / (done - i) : 0;
  if (b.results) for (let k = i; k < done; k++) batchedResult(b, i32, (desc >> 2) + k * DESC_WORDS, k);
  else if (i32[(tally + BatchTally.OTHERS) >> 2] !== others) b.others(i32, desc >> 2, i, done);
  // the run-time histogram gets one sample per 64 packets (those whose index is a multiple of 64), here the batch's mean
  for (let k = (i + 63) & ~63; k < done; k += 64) b.samples.push(each);
  return done;
}

function batchedResult(b: Batch, i32: Int32Array, d: number, k: number): void {
  b.add(k, i32[d + DescWord.RET], ranAt(i32, d), i32[d + DescWord.LEN], 0);
}

/** ranAt: where the batched packet of descriptor word `d` ran: where it lay (in place), else its slot, else the CPU's frame. */
function ranAt(i32: Int32Array, d: number): number {
  const hs = i32[d + DescWord.HARD_START];
  const src = i32[d + DescWord.SRC];
  return src && batch!.inPlace ? src : (hs || rt.frame.start) + XDP_PACKET_HEADROOM;
}

/**
 * runRecords runs the pcap records from `start` to `end` that hash to this worker (recordWalk.ts);
 * what the walk leaves (multi-buffer frames, return values of 8 and up, faults) is done here.
 */
function runRecords(w: RecordWalker, b: Batch, start: number, end: number, workers: number): void {
  const dv = space.view;
  const t = process.hrtime.bigint();
  let p = start;
  let extra = 0;
  while (p < end) {
    try {
      p = w.walk(p, end, workers, init.cpu, tallyAt, XDP_MAX_LINEAR);
    } catch (e) {
      p = w.current;
      const len = dv.getUint32(p + 8, true);
      fault(b, extra++, p + 16, len, e);
      p += 16 + len;
      continue;
    }
    batch!.checkStop();
    if (p >= end) break;
    const len = dv.getUint32(p + 8, true);
    if (w.stop === STOP_TALLY) b.add(extra++, w.ret, p + 16, len, 0);
    else runPacket(b, extra++, 0, 0, len, Math.max(len, dv.getUint32(p + 12, true)), p + 16, dv.getUint32(p, true), dv.getUint32(p + 4, true));
    p += 16 + len;
  }
  const packets = b.fromTally(dv, tallyAt);
  // the run-time histogram: one sample per 64 packets, the walk's mean
  const each = packets ? Number(process.hrtime.bigint() - t) / (packets + extra) : 0;
  for (let k = 0; k < packets; k += 64) b.samples.push(each);
}

parentPort!.on('message', (req: BatchRequest) => {
  const { n, desc } = req;
  const b = new Batch(n, req.tally);
  space.refresh();
  const i32 = space.i32;
  const t0 = process.hrtime.bigint();
  if (req.records && !walker) throw new Error('internal: records sent to a worker that does not batch');
  if (req.records) runRecords(walker!, b, req.records.start, req.records.end, req.records.workers);
  else for (let i = 0; i < n; ) {
    if (batch) {
      // the batch stops before a packet it does not take (multi-buffer) and after one that threw
      i = runBatched(batch, b, i32, desc, i, n);
      if (i >= n) break;
    }
    runOne(b, i32, (desc >> 2) + i * DESC_WORDS, i);
    i++;
  }
  if (batch && !b.results && !req.records) b.fromTally(space.view, tallyAt);
  const res: BatchResult = { id: req.id, results: b.results, tally: b.tally(), extras: b.extras, traces: traces.splice(0), ns: Number(process.hrtime.bigint() - t0), samples: b.samples };
  parentPort!.postMessage(res, b.results ? [b.results.buffer as ArrayBuffer] : []);
});

parentPort!.postMessage('ready');

function describeRedirect(r: NonNullable<IngressResult['redirect']>): string {
  if ('kind' in r) return r.kind === 'map' ? `map id ${r.mapId} key ${r.target}` : `ifindex ${r.target}`;
  return `ifindex ${r.ifindex}${r.ingress ? ' ingress' : ''}`;
}
