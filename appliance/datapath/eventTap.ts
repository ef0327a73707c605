import type { HookRuntime } from '../../hooks/runtime.js';
import { RingBuf } from '../../maps/ringbuf.js';
import type { EventBatch, EventMap, EventRecord } from './events.js';

/**
 * EventTap is a worker's reader of the program's events: it drains the ring buffers (under
 * their lock: every worker reads the shared ring, and a reserve that finds the ring full
 * drains it on the spot, so no record is lost to a reader that polls only between batches)
 * and takes this CPU's bpf_perf_event_output samples. `take` returns what a request produced:
 * counts always, the records only when `keep` (the run writes events out).
 */
export class EventTap {
  readonly #rt: HookRuntime;
  readonly #maps: readonly EventMap[];
  readonly #rings: { readonly m: number; readonly rb: RingBuf }[] = [];
  readonly #byId = new Map<number, number>();
  readonly #keep: boolean;
  #counts: number[];
  #records: EventRecord[] = [];

  constructor(rt: HookRuntime, maps: readonly EventMap[], keep: boolean) {
    this.#rt = rt;
    this.#maps = maps;
    this.#keep = keep;
    this.#counts = maps.map(() => 0);
    maps.forEach((e, m) => {
      this.#byId.set(e.id, m);
      if (e.kind !== 'ringbuf') return;
      const rb = rt.views.get(e.desc);
      if (!(rb instanceof RingBuf)) return;
      rb.reader = (recs) => this.#add(m, recs);
      this.#rings.push({ m, rb });
    });
  }

  #add(m: number, recs: readonly Uint8Array[], cpu = this.#rt.cpu): void {
    this.#counts[m] += recs.length;
    if (this.#keep) for (const data of recs) this.#records.push({ m, cpu, data });
  }

  /** take drains the rings and the perf samples and returns the request's events (undefined when none). */
  take(): EventBatch | undefined {
    for (const { m, rb } of this.#rings) this.#add(m, rb.take());
    const perf = this.#rt.perf;
    if (perf.length) {
      for (const p of perf) {
        const m = this.#byId.get(p.mapId);
        if (m !== undefined) this.#add(m, [p.data], p.cpu);
      }
      perf.length = 0;
    }
    if (!this.#counts.some((c) => c > 0)) return undefined;
    const out: EventBatch = { counts: this.#counts, records: this.#keep ? this.#records : undefined };
    this.#counts = this.#maps.map(() => 0);
    this.#records = [];
    return out;
  }
}
