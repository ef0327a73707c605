import type { EngineName } from '../../vm/engine.js';
import { parentPort, workerData } from 'node:worker_threads';
import { type IngressResult, skbIngress, xdpIngress } from '../../hooks/ingress.js';
import { ProgType } from '../../hooks/progType.js';
import { HookRuntime } from '../../hooks/runtime.js';
import { verdictOf } from '../../hooks/verdict.js';
import { XdpBatch, xdpBatchable } from '../../hooks/xdpBatch.js';
import { XDP_MAX_LINEAR } from '../../hooks/testRun.js';
import { AddressSpace } from '../../vm/memory.js';
import { engineByName } from '../engines.js';
import { importProgs } from './progTransfer.js';
import { RecordWalker, STOP_TALLY, TALLY_BYTES } from './recordWalk.js';
import { type BatchRequest, type BatchResult, IN_FIELDS, In, OUT_FIELDS, Out, OutFlag, type PacketExtra, type TallyRow, type WorkerInit } from './protocol.js';

// A replay worker: one emulated CPU. It attaches to the shared memory, rebuilds the loaded
// programs, and runs each batch of packets the main thread placed in its ingress buffer:
// a JIT-compiled XDP program whose helpers allow it many packets per call into WebAssembly
// (hooks/xdpBatch.ts), anything else one packet at a time.
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

  /** tallyBatched counts batched runs [i, done) of the descriptors at word `d0` (XDP: the length did not change). */
  tallyBatched(i32: Int32Array, d0: number, i: number, done: number): void {
    for (let k = i; k < done; k++) {
      const d = d0 + k * IN_FIELDS;
      const r = i32[d + In.RET] >>> 0;
      if (r < 8) this.addMany(r, 1, i32[d + In.LEN]);
      else this.add(k, r, 0, i32[d + In.LEN], 0);
    }
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
  const hs = i32[d + In.HARD_START];
  runPacket(b, i, hs, hs ? i32[d + In.ROOM] : 0, i32[d + In.LEN], i32[d + In.WIRE_LEN], i32[d + In.SRC], i32[d + In.TS_SEC], i32[d + In.TS_NSEC]);
}

/** runPacket runs one packet through xdpIngress or skbIngress: in its slot (hardStart, room), or copied from `src` into the CPU's frame. */
function runPacket(b: Batch, i: number, hardStart: number, room: number, len: number, wireLen: number, src: number, tsSec: number, tsNsec: number): void {
  slot.hardStart = hardStart || rt.frame.start;
  slot.room = hardStart ? room : rt.frame.size;
  slot.len = len;
  slot.wireLen = wireLen;
  if (src) space.u8.copyWithin(slot.hardStart + 256, src, src + len);
  if (init.deterministic) slot.tstamp = now = BigInt(tsSec >>> 0) * 1_000_000_000n + BigInt(tsNsec);
  let r: IngressResult;
  try {
    if ((i & 63) === 0) {
      const t = process.hrtime.bigint();
      r = run(rt, prog, slot);
      b.samples.push(Number(process.hrtime.bigint() - t));
    } else r = run(rt, prog, slot);
  } catch (e) {
    fault(b, i, slot.hardStart + 256, slot.len, e);
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
  let done: number;
  try {
    done = xb.run(desc, i, n);
  } catch (e) {
    // the packet that threw faulted; those before it ran
    done = xb.current;
    const d = (desc >> 2) + done * IN_FIELDS;
    for (let k = i; k < done; k++) batchedResult(b, i32, (desc >> 2) + k * IN_FIELDS, k);
    fault(b, done, ranAt(i32, d), i32[d + In.LEN], e);
    return done + 1;
  }
  const each = done > i ? Number(process.hrtime.bigint() - t) / (done - i) : 0;
  if (b.results) for (let k = i; k < done; k++) batchedResult(b, i32, (desc >> 2) + k * IN_FIELDS, k);
  else b.tallyBatched(i32, desc >> 2, i, done);
  // the run-time histogram gets one sample per 64 packets, here the batch's mean
  for (let k = i; k < done; k++) if ((k & 63) === 0) b.samples.push(each);
  return done;
}

function batchedResult(b: Batch, i32: Int32Array, d: number, k: number): void {
  b.add(k, i32[d + In.RET], ranAt(i32, d), i32[d + In.LEN], 0);
}

/** ranAt: where the batched packet of descriptor word `d` ran: where it lay (in place), else its slot, else the CPU's frame. */
function ranAt(i32: Int32Array, d: number): number {
  const hs = i32[d + In.HARD_START];
  const src = i32[d + In.SRC];
  return src && batch!.inPlace ? src : hs ? hs + 256 : rt.frame.start + 256;
}

/**
 * runRecords runs the pcap records from `start` to `end` that hash to this worker (recordWalk.ts);
 * what the walk leaves (multi-buffer frames, return values of 8 and up, faults) is done here.
 */
function runRecords(w: RecordWalker, b: Batch, start: number, end: number, workers: number, tally: number): void {
  const dv = space.view;
  for (let k = 0; k < TALLY_BYTES; k += 8) dv.setBigUint64(tally + k, 0n, true);
  const t = process.hrtime.bigint();
  let p = start;
  let extra = 0;
  while (p < end) {
    try {
      p = w.walk(p, end, workers, init.cpu, tally, XDP_MAX_LINEAR);
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
  let packets = 0;
  for (let r = 0; r < 8; r++) {
    const n = Number(dv.getBigUint64(tally + r * 16, true));
    packets += n;
    if (n) b.addMany(r, n, Number(dv.getBigUint64(tally + r * 16 + 8, true)));
  }
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
  if (req.records) runRecords(walker!, b, req.records.start, req.records.end, req.records.workers, desc);
  else for (let i = 0; i < n; ) {
    if (batch) {
      // the batch stops before a packet it does not take (multi-buffer) and after one that threw
      i = runBatched(batch, b, i32, desc, i, n);
      if (i >= n) break;
    }
    runOne(b, i32, (desc >> 2) + i * IN_FIELDS, i);
    i++;
  }
  const res: BatchResult = { id: req.id, results: b.results, tally: b.tally(), extras: b.extras, traces: traces.splice(0), ns: Number(process.hrtime.bigint() - t0), samples: b.samples };
  parentPort!.postMessage(res, b.results ? [b.results.buffer as ArrayBuffer] : []);
});

parentPort!.postMessage('ready');

function describeRedirect(r: NonNullable<IngressResult['redirect']>): string {
  if ('kind' in r) return r.kind === 'map' ? `map id ${r.mapId} key ${r.target}` : `ifindex ${r.target}`;
  return `ifindex ${r.ifindex}${r.ingress ? ' ingress' : ''}`;
}
