import { MapType } from '../../uapi/mapType.js';
import type { ProgObject } from '../../kernel/objects.js';

/** EventKind: where a program's event came from: a BPF_MAP_TYPE_RINGBUF record or a bpf_perf_event_output sample. */
export type EventKind = 'ringbuf' | 'perf';

/** EventMap is a map a program sends events through: a ring buffer or a perf event array. */
export interface EventMap {
  readonly id: number;
  readonly name: string;
  readonly kind: EventKind;
  /** The map's descriptor address in the shared memory (what a worker attaches to). */
  readonly desc: number;
}

/**
 * EventRecord: one event: its map (index into the EventMap list), the CPU (a perf sample's
 * perf event CPU; for a ring buffer record, which says no CPU, the worker that read it) and its bytes.
 */
export interface EventRecord {
  readonly m: number;
  readonly cpu: number;
  readonly data: Uint8Array;
}

/**
 * EventBatch: what a worker read of events in one request: how many per map (indexes into the
 * pipeline's EventMap list) and, when the run writes events out, the records in the order the
 * worker read them.
 */
export interface EventBatch {
  readonly counts: number[];
  readonly records?: EventRecord[];
}

/** EventCount is one map's entry of the summary's `events`. */
export interface EventCount {
  readonly map: string;
  readonly map_id: number;
  readonly kind: EventKind;
  count: number;
}

/** eventMaps: the ring buffers and perf event arrays `prog` uses, in its map order. */
export function eventMaps(prog: ProgObject): EventMap[] {
  const out: EventMap[] = [];
  for (const m of [...prog.maps, ...prog.bound]) {
    const kind =
      m.spec.type === MapType.BPF_MAP_TYPE_RINGBUF ? 'ringbuf' : m.spec.type === MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY ? 'perf' : undefined;
    if (kind && !out.some((e) => e.id === m.id)) out.push({ id: m.id, name: m.spec.name ?? `id ${m.id}`, kind, desc: m.map.desc });
  }
  return out;
}

/**
 * openPerfEvents fills slots 0..n-1 of the program's perf event arrays, as a perf buffer reader
 * opens one perf event per CPU (libbpf's perf_buffer__new): bpf_perf_event_output then
 * succeeds on each emulated CPU instead of failing with -ENOENT. Slots already set are kept.
 */
export function openPerfEvents(prog: ProgObject, n: number): void {
  for (const m of [...prog.maps, ...prog.bound]) {
    if (m.spec.type !== MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY) continue;
    for (let cpu = 0; cpu < Math.min(n, m.spec.maxEntries); cpu++) {
      const key = new Uint8Array(new Uint32Array([cpu]).buffer);
      try {
        m.map.lookupBytes(key);
      } catch {
        // a nonzero marker: the slot's "perf event" (bpfbox has no fds behind it)
        m.map.updateBytes(key, new Uint8Array(new Uint32Array([cpu + 1]).buffer), 0);
      }
    }
  }
}

/** eventSummary is the summary's `events` line, e.g. `events: 123 (ringbuf rb), 4 (perf events)`. */
export function eventSummary(counts: readonly EventCount[]): string {
  return `events: ${counts.map((c) => `${c.count} (${c.kind} ${c.map})`).join(', ')}`;
}
