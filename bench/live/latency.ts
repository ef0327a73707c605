import type { Topology } from '../../test/support/topology.js';
import { HOST_C } from '../../test/support/topology.js';

/** Latency: round-trip times of ping a0 -> c0 through a forwarder, in microseconds. */
export interface Latency {
  readonly sent: number;
  readonly received: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

/**
 * pingLatency sends `count` ICMP echoes from a0 to c0, 2 ms apart (`ping -i 0.002`, root), and
 * takes the median and 99th percentile of the replies' RTTs as ping prints them (`time=0.123 ms`,
 * microsecond resolution). Bounded: ping's own -w deadline, and the exec's timeout after it.
 */
export function pingLatency(t: Topology, count: number): Latency {
  const deadline = Math.ceil(count * 0.002 + 5);
  const r = t.exec(t.nsA, ['ping', '-n', '-i', '0.002', '-c', String(count), '-W', '1', '-w', String(deadline), HOST_C.ip], {
    check: false,
    timeoutMs: (deadline + 5) * 1000,
  });
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
  const at = (q: number) => (rtts.length ? rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))] : NaN);
  return { sent: count, received: rtts.length, p50Us: at(0.5), p99Us: at(0.99) };
}
