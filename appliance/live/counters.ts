/**
 * The live data path's counters, one definition: what each worker counts per interface, and
 * how it lays them out in the shared counter page (LiveCounters) that the main thread reads
 * at any time and that outlives a worker that died. Every frame a ring gives is counted once
 * in `rx`, and then once in exactly one of the outcomes of its ingress interface:
 *
 *   rx = forwarded + tx + redirected + dropped + exception + redirect_dropped + tapped + unrun
 *
 * and every frame handed to a socket to go out is counted once on its egress interface, as
 * `sent` or `send_errors`. The kernel's own drops before the ring (`kernel_drops`, from
 * PACKET_STATISTICS) and the frames the ring could not hold whole (`truncated`) never reach
 * `rx`; `oversized` frames neither.
 */

/** IfaceCounter: name → what it counts; the order is the layout. */
export const IFACE_COUNTERS = {
  rx: 'frames taken from the receive ring (GSO frames counted as the segments they became)',
  rx_bytes: 'bytes of those frames',
  kernel_drops: 'frames the kernel dropped before the ring had room (PACKET_STATISTICS tp_drops)',
  truncated: 'frames longer than a ring frame (TP_STATUS_COPY), dropped',
  oversized: 'frames that could not be handled whole (a GSO kind not segmented; no room), dropped',
  vlan_restored: 'frames whose outer VLAN tag the kernel had stripped, put back in the data',
  csum_completed: 'partial checksums completed in software (offloads off)',
  segmented: 'segments made from GSO frames (offloads off)',
  run: 'frames run through the program',
  forwarded: 'run, then sent on to the peer interface (XDP_PASS, TC_ACT_OK / UNSPEC / PIPE)',
  tx: 'run, then sent back out of the ingress interface (XDP_TX)',
  redirected: 'run, then sent out of a managed interface by a redirect',
  dropped: 'run, then dropped by verdict (XDP_DROP, TC_ACT_SHOT / STOLEN / TRAP, a socket filter 0)',
  exception: "run, then dropped as an exception (XDP_ABORTED, a fault, an unknown value: the kernel's xdp_exception)",
  redirect_dropped:
    "run, then dropped: redirected to an interface the appliance does not manage, to an empty entry, or by the DEVMAP entry's own program (anything but XDP_PASS)",
  tapped: 'run in a tap (no peer): counted by verdict, not sent',
  unrun: 'not run: forwarded or dropped by the on-error policy after a worker failed, or too short to be an skb',
  sent: 'frames handed to this interface and sent',
  sent_bytes: 'bytes of those frames',
  send_errors: 'frames that could not be sent (after retries on ENOBUFS / EAGAIN)',
  send_retries: 'retries after ENOBUFS / EAGAIN (poll for POLLOUT, then send again)',
} as const;
export type IfaceCounter = keyof typeof IFACE_COUNTERS;
export const IFACE_COUNTER_NAMES = Object.keys(IFACE_COUNTERS) as IfaceCounter[];
/** IfaceSlot: a counter's index within an interface's block. */
export const IfaceSlot = Object.fromEntries(IFACE_COUNTER_NAMES.map((k, i) => [k, i])) as { readonly [K in IfaceCounter]: number };

/**
 * VERDICT_NAMES: the verdicts a worker counts, by the kernel's names (hooks/verdict.ts's
 * verdictOf), each with packets, bytes and faults: a fixed table, so the page has a fixed
 * layout. Return values below RETVALS are also counted by value (the summary's `verdicts`).
 */
export const VERDICT_NAMES = [
  'XDP_ABORTED',
  'XDP_DROP',
  'XDP_PASS',
  'XDP_TX',
  'XDP_REDIRECT',
  'TC_ACT_UNSPEC',
  'TC_ACT_OK',
  'TC_ACT_SHOT',
  'TC_ACT_STOLEN',
  'TC_ACT_TRAP',
  'TC_ACT_REDIRECT',
  'drop',
  'trim',
  'keep all',
] as const;
export const RETVALS = 16;

/** Worker-wide fields at the start of a worker's block. */
export const WorkerSlot = { BUSY_NS: 0, BATCHES: 1, FAULTS: 2, OTHER_RETVALS: 3 } as const;
const WORKER_FIELDS = 4;

/**
 * CounterLayout: a worker's block of float64s in the shared page: the worker fields, then per
 * interface IFACE_COUNTER_NAMES, then per verdict (packets, bytes, faults), then packets by
 * return value 0..RETVALS-1. (Float64 counts stay exact to 2^53.)
 */
export class CounterLayout {
  readonly ifaces: number;
  readonly perWorker: number;
  constructor(ifaces: number) {
    this.ifaces = ifaces;
    this.perWorker = WORKER_FIELDS + ifaces * IFACE_COUNTER_NAMES.length + VERDICT_NAMES.length * 3 + RETVALS;
  }
  worker(w: number): number {
    return w * this.perWorker;
  }
  iface(w: number, i: number, c: number): number {
    return w * this.perWorker + WORKER_FIELDS + i * IFACE_COUNTER_NAMES.length + c;
  }
  verdict(w: number, v: number): number {
    return w * this.perWorker + WORKER_FIELDS + this.ifaces * IFACE_COUNTER_NAMES.length + v * 3;
  }
  retval(w: number, r: number): number {
    return w * this.perWorker + WORKER_FIELDS + this.ifaces * IFACE_COUNTER_NAMES.length + VERDICT_NAMES.length * 3 + r;
  }
}
