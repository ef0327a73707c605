import type { Kernel } from '../../../kernel/kernel.js';
import { MapType } from '../../../uapi/mapType.js';
import type { MapObject } from '../../../kernel/objects.js';
import { type TypeDesc, sizeOfDesc } from '../../../maps/typeDesc.js';
import type { CounterConfig, GaugeConfig, HistogramConfig, LabelConfig, MetricCommon } from '../../config/config.js';
import { DecoderError, type LabelDecoder, labelDecoder } from './decoders.js';
import { isPerCpu, mapEntries } from '../../datapath/mapEntries.js';
import { UserError } from '../../../uapi/userError.js';

/** MapMetricError: an exporter entry that does not fit its map; names the entry, the map and the field. */
export class MapMetricError extends UserError {}

/** The metric object prom-client's Registry takes (registerMetric): a name and a `get`. */
export interface CollectedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator: 'sum';
  get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: 'sum';
    values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
  }>;
}

/** MapRef: where an exporter entry's map lives. */
export interface MapHandle {
  readonly kernel: Kernel;
  readonly fd: number;
  readonly obj: MapObject;
}

interface Field {
  name: string;
  offset: number;
  size: number;
}

/** A value reader: the numbers a value holds, one per selected field (or one for the whole value). */
function valueFields(at: string, m: MapObject, fields: readonly string[] | undefined): Field[] {
  const size = m.spec.valueSize;
  const t = m.spec.btf?.value;
  if (!fields) {
    if (![1, 2, 4, 8].includes(size))
      throw new MapMetricError(`${at}: the value is ${size} bytes, not a 1-, 2-, 4- or 8-byte integer; select struct fields with "fields"`);
    return [{ name: '', offset: 0, size }];
  }
  if (!t || t.k !== 'struct')
    throw new MapMetricError(
      `${at}: "fields" needs a struct value described by BTF; map ${m.spec.name ?? m.id} has ${t ? `a ${t.k}` : 'no BTF for its value'}`,
    );
  return fields.map((f) => {
    const member = t.members.find((x) => x.name === f);
    if (!member)
      throw new MapMetricError(`${at}: field ${f}: struct has no such field (it has ${t.members.map((x) => x.name).join(', ')})`);
    const ft: TypeDesc = member.type;
    if (ft.k !== 'int' || member.bitSize || member.bitOffset % 8)
      throw new MapMetricError(`${at}: field ${f}: is ${ft.k === 'int' ? 'a bit field' : `a ${ft.k}`}, not an integer`);
    return { name: f, offset: member.bitOffset / 8, size: sizeOfDesc(ft) };
  });
}

function readUint(b: Uint8Array, off: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + b[off + i];
  return v;
}

interface Labeler {
  names: string[];
  decode: (key: Uint8Array) => string[] | null;
}

function labeler(at: string, labels: readonly LabelConfig[], keySize: number, what: string): Labeler {
  const total = labels.reduce((s, l) => s + l.size, 0);
  if (total !== keySize) throw new MapMetricError(`${at}: labels cover ${total} bytes; the ${what} key has ${keySize}`);
  const parts = labels.map((l, i) => {
    try {
      return { l, d: l.padding ? undefined : labelDecoder(l) };
    } catch (e) {
      if (e instanceof DecoderError) throw new MapMetricError(`${at}: labels[${i}] (${l.name}): ${e.message}`, { cause: e });
      throw e;
    }
  });
  return {
    names: parts.filter((p) => p.d).map((p) => p.l.name),
    decode: (key) => {
      const out: string[] = [];
      let off = 0;
      for (const p of parts) {
        const bytes = key.subarray(off, off + p.l.size);
        off += p.l.size;
        if (!p.d) continue;
        const s = (p.d as LabelDecoder)(bytes);
        if (s === null) return null;
        out.push(s);
      }
      return out;
    },
  };
}

const entries = (h: MapHandle) => mapEntries(h.kernel, h.fd, h.obj);

function check(at: string, h: MapHandle, c: MetricCommon): void {
  const t = h.obj.spec.type;
  if (
    [
      MapType.BPF_MAP_TYPE_PROG_ARRAY,
      MapType.BPF_MAP_TYPE_RINGBUF,
      MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY,
      MapType.BPF_MAP_TYPE_QUEUE,
      MapType.BPF_MAP_TYPE_STACK,
    ].includes(t as 3)
  ) {
    throw new MapMetricError(`${at}: map ${c.map} holds no key/value counts`);
  }
  if (c.per_cpu === 'label' && !isPerCpu(t)) throw new MapMetricError(`${at}: per_cpu: label, but map ${c.map} is not a per-CPU map`);
}

/**
 * counterMetric: one series per map entry (and per field, and per CPU with `per_cpu: label`),
 * labels decoded from the key; values read at scrape time. Several fields are told apart by
 * a `field` label; one field needs none.
 */
export function counterMetric(at: string, h: MapHandle, c: CounterConfig): CollectedMetric {
  return valueMetric(at, h, c, 'counter', 1);
}

/**
 * gaugeMetric: as counterMetric, for values that go down (a timestamp, a level), each
 * multiplied by `scale` (1e-9 turns bpf_ktime_get_ns's nanoseconds into seconds).
 */
export function gaugeMetric(at: string, h: MapHandle, c: GaugeConfig): CollectedMetric {
  return valueMetric(at, h, c, 'gauge', c.scale ?? 1);
}

function valueMetric(at: string, h: MapHandle, c: CounterConfig, type: 'counter' | 'gauge', scale: number): CollectedMetric {
  check(at, h, c);
  const lab = labeler(at, c.labels ?? [], h.obj.spec.keySize, `map ${c.map}'s`);
  const fields = valueFields(at, h.obj, c.fields);
  const fieldLabel = fields.length > 1;
  const perCpuLabel = c.per_cpu === 'label';
  const base = { name: c.name, help: c.help, type, aggregator: 'sum' as const };
  return {
    ...base,
    async get() {
      const values: { labels: Record<string, string | number>; value: number }[] = [];
      for (const [key, perCpu] of entries(h)) {
        const ls = lab.decode(key);
        if (!ls) continue;
        const labels: Record<string, string | number> = Object.fromEntries(lab.names.map((n, i) => [n, ls[i]]));
        for (const f of fields) {
          const fl = fieldLabel ? { ...labels, field: f.name } : labels;
          if (perCpuLabel)
            perCpu.forEach((v, cpu) => values.push({ labels: { ...fl, cpu }, value: readUint(v, f.offset, f.size) * scale }));
          else values.push({ labels: fl, value: perCpu.reduce((s, v) => s + readUint(v, f.offset, f.size), 0) * scale });
        }
      }
      return { ...base, values };
    },
  };
}

/**
 * histogramMetric: ebpf_exporter's map histograms: the key's last label is the bucket index
 * and the value the count in that bucket; exp2 buckets end at 2^i × multiplier, linear ones at
 * i × multiplier. Counts are made cumulative from bucket_min to bucket_max; larger indexes
 * count only in +Inf. The sum is estimated from the bucket bounds (a map holds no sums).
 */
export function histogramMetric(at: string, h: MapHandle, c: HistogramConfig): CollectedMetric {
  check(at, h, c);
  const labels = c.labels ?? [];
  if (!labels.length) throw new MapMetricError(`${at}: a histogram needs labels, the last of them the bucket`);
  const lab = labeler(at, labels.slice(0, -1), h.obj.spec.keySize - labels.at(-1)!.size, `map ${c.map}'s (less the bucket)`);
  if (labels.reduce((s, l) => s + l.size, 0) !== h.obj.spec.keySize)
    throw new MapMetricError(
      `${at}: labels cover ${labels.reduce((s, l) => s + l.size, 0)} bytes; map ${c.map}'s key has ${h.obj.spec.keySize}`,
    );
  const bucketLabel = labels.at(-1)!;
  if (bucketLabel.size > 8) throw new MapMetricError(`${at}: the bucket label ${bucketLabel.name} is ${bucketLabel.size} bytes; at most 8`);
  const [field] = valueFields(at, h.obj, undefined);
  const mult = c.bucket_multiplier ?? 1;
  const bound = (i: number) => (c.bucket_type === 'exp2' ? 2 ** i : i) * mult;
  const perCpuLabel = c.per_cpu === 'label';
  const base = { name: c.name, help: c.help, type: 'histogram' as const, aggregator: 'sum' as const };
  return {
    ...base,
    async get() {
      const series = new Map<string, { labels: Record<string, string | number>; counts: Map<number, number> }>();
      const keySplit = h.obj.spec.keySize - bucketLabel.size;
      for (const [key, perCpu] of entries(h)) {
        const ls = lab.decode(key.subarray(0, keySplit));
        if (!ls) continue;
        const bucket = readUint(key, keySplit, bucketLabel.size);
        const add = (labels: Record<string, string | number>, n: number) => {
          const id = JSON.stringify(labels);
          let s = series.get(id);
          if (!s) series.set(id, (s = { labels, counts: new Map() }));
          s.counts.set(bucket, (s.counts.get(bucket) ?? 0) + n);
        };
        const labels = Object.fromEntries(lab.names.map((n, i) => [n, ls[i]]));
        if (perCpuLabel) perCpu.forEach((v, cpu) => add({ ...labels, cpu }, readUint(v, field.offset, field.size)));
        else
          add(
            labels,
            perCpu.reduce((s, v) => s + readUint(v, field.offset, field.size), 0),
          );
      }
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const { labels, counts } of series.values()) {
        let cum = 0;
        let sum = 0;
        let total = 0;
        for (const [i, n] of counts) ((total += n), (sum += n * bound(Math.max(i, c.bucket_min))));
        for (let i = c.bucket_min; i <= c.bucket_max; i++) {
          cum += counts.get(i) ?? 0;
          if (i === c.bucket_min) for (const [j, n] of counts) if (j < c.bucket_min) cum += n;
          values.push({ labels: { ...labels, le: bound(i) }, value: cum, metricName: `${c.name}_bucket` });
        }
        values.push({ labels: { ...labels, le: '+Inf' }, value: total, metricName: `${c.name}_bucket` });
        values.push({ labels, value: sum, metricName: `${c.name}_sum` });
        values.push({ labels, value: total, metricName: `${c.name}_count` });
      }
      return { ...base, values };
    },
  };
}
