import { IFACE_COUNTERS, IFACE_COUNTER_NAMES, type IfaceCounter } from '../../live/counters.js';
import type { LiveTotals } from '../attachments.js';
import type { CollectedMetric } from './mapMetrics.js';

/**
 * LIVE_FAMILY: the family each interface counter (live/counters.ts IFACE_COUNTERS) is
 * exported in, and its `counter` label there: byte counts apart from frame counts, as
 * Prometheus naming wants one unit per family.
 */
const LIVE_FAMILY = Object.fromEntries(
  IFACE_COUNTER_NAMES.map((k) => [
    k,
    k.endsWith('_bytes') ? { family: 'bytes', label: k.slice(0, -'_bytes'.length) } : { family: 'frames', label: k },
  ]),
) as Record<IfaceCounter, { family: 'frames' | 'bytes'; label: string }>;

const helpOf = (family: 'frames' | 'bytes') =>
  IFACE_COUNTER_NAMES.filter((k) => LIVE_FAMILY[k].family === family)
    .map((k) => `${LIVE_FAMILY[k].label}: ${IFACE_COUNTERS[k]}`)
    .join('; ');

type Value = { labels: Record<string, string>; value: number };

function family(name: string, help: string, values: () => Value[]): CollectedMetric {
  return {
    name,
    help,
    type: 'counter',
    aggregator: 'sum',
    get: async () => ({ name, help, type: 'counter', aggregator: 'sum', values: values() }),
  };
}

/**
 * liveMetrics: the live interfaces' series, read from `totals` (Attachments.totals, which
 * reads LiveBridge.summary()) when Prometheus scrapes, never on a timer:
 *   bpfbox_live_frames_total{interface,counter}   every frame counter of IFACE_COUNTERS
 *   bpfbox_live_bytes_total{interface,counter}    rx, sent (rx_bytes, sent_bytes)
 *   bpfbox_live_packets_total{interface,program,verdict}   frames run, by the verdict's kernel name
 *   bpfbox_live_worker_failures_total{interface}  workers that died (a stand-in took over, as on_error says)
 * Live verdicts have a family of their own rather than replay's bpfbox_packets_total: the
 * bridge counts them per interface, not per CPU.
 */
export function liveMetrics(totals: () => LiveTotals): CollectedMetric[] {
  const counters = (which: 'frames' | 'bytes') => (): Value[] => {
    const out: Value[] = [];
    for (const [iface, c] of totals().frames)
      for (const k of IFACE_COUNTER_NAMES)
        if (LIVE_FAMILY[k].family === which) out.push({ labels: { interface: iface, counter: LIVE_FAMILY[k].label }, value: c[k] });
    return out;
  };
  return [
    family('bpfbox_live_frames_total', `Frames of live interfaces, by counter: ${helpOf('frames')}`, counters('frames')),
    family('bpfbox_live_bytes_total', `Bytes of live interfaces, by counter: ${helpOf('bytes')}`, counters('bytes')),
    family('bpfbox_live_packets_total', 'Frames run on live interfaces, by the interface attached, program and verdict', () =>
      totals().verdicts.map((v) => ({ labels: { interface: v.dev, program: v.program, verdict: v.verdict }, value: v.value })),
    ),
    family(
      'bpfbox_live_worker_failures_total',
      "Live workers that died; a stand-in took their share as the interface's on_error says",
      () => [...totals().failures].map(([iface, n]) => ({ labels: { interface: iface }, value: n })),
    ),
  ];
}
