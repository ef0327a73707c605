import type { IngressResult } from '../../hooks/ingress.js';
import { verdictOf } from '../../hooks/verdict.js';
import { ProgType } from '../../uapi/progType.js';
import { BatchTally } from '../../vm/jit/batchTally.js';
import { type BatchResult, OUT_FIELDS, Out, OutFlag, type PacketExtra, type TallyRow } from './protocol.js';

/** The run-time histogram gets one packet's run time in this many: those whose index in the batch is a multiple of it. */
const SAMPLE_EVERY = 64;

/** RunEnd: how a packet's run ended: r0's low 32 bits, and the packet now: `len` bytes at `start`, `tail` past the linear part. */
export type RunEnd = Pick<IngressResult, 'retval' | 'start' | 'len' | 'tail'>;

/**
 * BatchLedger: what a worker writes down of one request as its packets run, where they ran:
 * each packet's verdict (verdictOf), counted in a row per verdict, and, unless the request is
 * tallied, per packet the row, where the packet is and the bytes the verdict leaves; the
 * extras; the run-time samples. `result` makes the BatchResult.
 */
export class BatchLedger {
  readonly #type: number;
  readonly #results?: Int32Array;
  readonly #extras: PacketExtra[] = [];
  readonly #samples: number[] = [];
  readonly #rows: TallyRow[] = [];
  /** Rows by verdict: the tally key is `${retval}/${name}`. */
  readonly #rowAt = new Map<string, number>();
  // tallied XDP verdicts by return value (below BatchTally.VALUES): packets, bytes; rows when the batch ends
  readonly #fast = new Float64Array(2 * BatchTally.VALUES);

  /** A request of `n` packets; `tally`: no per-packet results (BatchRequest.tally). */
  constructor(progType: number, n: number, tally: boolean) {
    this.#type = progType;
    if (!tally) this.#results = new Int32Array(n * OUT_FIELDS);
  }

  /** perPacket: the request wants each packet's result back (it is not tallied). */
  get perPacket(): boolean {
    return this.#results !== undefined;
  }

  /** add writes down packet `i` of the batch: how its run ended, and FAULT / EXTRA `flags`. */
  add(i: number, r: RunEnd, flags = 0): void {
    const faulted = (flags & OutFlag.FAULT) !== 0;
    const len = r.len + (r.tail?.length ?? 0);
    const res = this.#results;
    if (!res && !faulted && r.retval >>> 0 < BatchTally.VALUES && this.#type === ProgType.BPF_PROG_TYPE_XDP) {
      this.#addMany(r.retval, 1, len);
      return;
    }
    const v = verdictOf(this.#type, r.retval, len, faulted);
    const kept = v.keep !== undefined && v.keep < len ? v.keep : len;
    const at = this.#row(v.retval, v.name, v.forward);
    const row = this.#rows[at];
    row.packets++;
    row.bytes += kept;
    if (faulted) row.faults++;
    if (!res) return;
    const o = i * OUT_FIELDS;
    res[o + Out.ROW] = at;
    res[o + Out.START] = r.start;
    res[o + Out.LEN] = r.len;
    res[o + Out.KEPT] = kept;
    res[o + Out.FLAGS] = flags;
  }

  /** #addMany counts `packets` tallied XDP runs that returned `retval` (below BatchTally.VALUES), `bytes` in all. */
  #addMany(retval: number, packets: number, bytes: number): void {
    this.#fast[retval * 2] += packets;
    this.#fast[retval * 2 + 1] += bytes;
  }

  /** fromTally adds what batches or a record walk counted at `at` (BatchTally), clears it and returns how many packets that was. */
  fromTally(dv: DataView, at: number): number {
    let packets = 0;
    for (let r = 0; r < BatchTally.VALUES; r++) {
      const row = at + (r << BatchTally.ROW_SHIFT);
      const n = Number(dv.getBigUint64(row + BatchTally.PACKETS, true));
      packets += n;
      if (n) this.#addMany(r, n, Number(dv.getBigUint64(row + BatchTally.PACKET_BYTES, true)));
    }
    for (let k = 0; k < BatchTally.BYTES; k += 8) dv.setBigUint64(at + k, 0n, true);
    return packets;
  }

  /** extra records what does not fit in a packet's fixed fields. */
  extra(e: PacketExtra): void {
    this.#extras.push(e);
  }

  /** sampled: whether packet `i`'s run time goes to the histogram (one packet in SAMPLE_EVERY). */
  sampled(i: number): boolean {
    return i % SAMPLE_EVERY === 0;
  }

  /** sample gives the histogram `ns` as the run time of each sampled packet among [from, to) (runs timed together: their mean). */
  sample(from: number, to: number, ns: number): void {
    for (let k = Math.ceil(from / SAMPLE_EVERY) * SAMPLE_EVERY; k < to; k += SAMPLE_EVERY) this.#samples.push(ns);
  }

  /** #row: the index of the verdict's row, a new one the first time. */
  #row(retval: number, name: string, forward: boolean): number {
    const key = `${retval}/${name}`;
    let at = this.#rowAt.get(key);
    if (at === undefined) this.#rowAt.set(key, (at = this.#rows.push({ retval, name, forward, packets: 0, bytes: 0, faults: 0 }) - 1));
    return at;
  }

  /** result: the BatchResult of request `id`, which took `ns`; `traces`: the trace lines it printed. */
  result(id: number, ns: number, traces: string[]): BatchResult {
    for (let r = 0; r < BatchTally.VALUES; r++) {
      if (!this.#fast[r * 2]) continue;
      const v = verdictOf(this.#type, r, 0);
      const row = this.#rows[this.#row(v.retval, v.name, v.forward)];
      row.packets += this.#fast[r * 2];
      row.bytes += this.#fast[r * 2 + 1];
    }
    return { id, results: this.#results, tally: this.#rows, extras: this.#extras, traces, ns, samples: this.#samples };
  }
}
