import type { CurrentTask } from '../../hooks/currentTask.js';
import type { Device, Route, Neighbour } from '../../hooks/helpers/fib.js';
import type { CpuRegions } from '../../hooks/runtime.js';
import type { RedirectTarget } from '../../hooks/helpers/redirect.js';
import type { AddressSpaceSnapshot } from '../../vm/memory.js';
import type { ProgTransfer } from './progTransfer.js';
import type { EventBatch, EventMap } from './events.js';
import type { StreamWindow, WalkReport } from './sources/windowWalk.js';

/** WorkerInit: what a replay worker (one emulated CPU) receives when it starts. */
export interface WorkerInit {
  readonly space: AddressSpaceSnapshot;
  readonly cpu: number;
  readonly regions: CpuRegions;
  readonly progs: readonly ProgTransfer[];
  readonly entry: number;
  readonly ifindex: number;
  /** Clock from packet timestamps and random numbers seeded by `seed` and the CPU. */
  readonly deterministic: boolean;
  readonly seed: number;
  readonly trace: boolean;
  readonly routes?: readonly Route[];
  readonly neighbours?: readonly Neighbour[];
  readonly devices?: readonly Device[];
  /** The task programs run in (the host's cgroup and pid namespace: kernel/hostTask.ts). */
  readonly task?: CurrentTask;
  readonly ifindexes?: readonly number[];
  readonly engine?: string;
  /**
   * Run the program in batches (XdpBatch) and walk capture records (vm/jit/recordWalk.ts): a
   * JIT-compiled XDP program that is xdpBatchable, not traced. The pipeline decides it, and
   * sends records only then.
   */
  readonly batch: boolean;
  /** The program's ring buffers and perf event arrays, read after each request (EventTap); `keep`: send the records, not only counts. */
  readonly events?: { readonly maps: readonly EventMap[]; readonly keep: boolean };
}

/**
 * Out: per packet, worker to main (unless the batch is tallied), OUT_FIELDS i32s: ROW, its
 * verdict (the index of its row in BatchResult.tally); where the packet is now (LEN bytes at
 * START, the linear part); KEPT, the bytes the verdict leaves of it (tail included: a socket
 * filter's trim); FLAGS (OutFlag).
 */
export const Out = { ROW: 0, START: 1, LEN: 2, KEPT: 3, FLAGS: 4 } as const;
export const OUT_FIELDS = 5;
/** FLAGS bits: the run faulted; an extra record carries more (a redirect target, bytes past the linear part, clones). */
export const OutFlag = { FAULT: 1, EXTRA: 2 } as const;

/**
 * BatchRequest: `n` packets whose descriptors (DescOff, hooks/xdpBatch.ts) are at `desc` in
 * the shared memory. `tally`: the main thread needs no packet back (no output files), only
 * counts by verdict.
 */
export interface BatchRequest {
  readonly id: number;
  readonly desc: number;
  readonly n: number;
  readonly tally: boolean;
  /**
   * Instead of descriptors: the pcap records (little-endian, Ethernet) from `start` to `end`
   * of the shared memory, for every worker; each runs those whose flow hashes to it among
   * `workers` (vm/jit/recordWalk.ts), tallied in the CPU's tally page (`desc` unused).
   */
  readonly records?: { readonly start: number; readonly end: number; readonly workers: number };
  /**
   * Instead of descriptors placed by the main thread: a window of a capture the workers read
   * themselves (sources/windowRing.ts); `id` is the worker. Its reader reads and walks it, every
   * worker then runs its own packets of it (`n` unused: the walk counts them).
   */
  readonly window?: StreamWindow;
}

/** PacketExtra: what does not fit in the fixed fields. */
export interface PacketExtra {
  readonly i: number;
  readonly fault?: string;
  readonly redirect?: string;
  /** The redirect's target resolved (a DEVMAP entry's ifindex): where a live bridge sends the packet. */
  readonly to?: RedirectTarget;
  readonly tail?: Uint8Array;
  readonly clones?: number;
}

/** TallyRow: packets of one verdict (bytes as the verdict left them), and how many of them faulted. */
export interface TallyRow {
  readonly retval: number;
  readonly name: string;
  /** The packets go on (Verdict.forward). */
  readonly forward: boolean;
  packets: number;
  bytes: number;
  faults: number;
}

/** BatchResult: the results of a batch: counted by verdict, and per packet in the batch's order (Out) unless tallied. */
/**
 * BatchFailure: a worker's answer to a request it could not run (a streamed window whose file is
 * gone or is a directory now): that batch fails, the worker stays, and a later pass (serve's
 * retry of a looping source) runs on it again.
 */
export interface BatchFailure {
  readonly id: number;
  readonly failed: string;
}

export interface BatchResult {
  readonly id: number;
  readonly results?: Int32Array;
  readonly tally: TallyRow[];
  readonly extras: PacketExtra[];
  readonly traces: string[];
  readonly ns: number;
  /** Run times (ns) of one packet in 64 (BatchLedger.sample), for the run-time histogram. */
  readonly samples: number[];
  /** The events the request produced (only a program with ring buffers or perf event arrays, and only when there were some). */
  readonly events?: EventBatch;
  /** A streamed window's reader: what its walk found besides packets (records not run, a cut-off end, a corrupt header). */
  readonly walk?: WalkReport;
  /**
   * Only when BPFBOX_THREAD_CPU is set (threadCpu.ts): the worker thread's CPU time so far (ns)
   * when the request began and when it ended (the kernel brings it up to date at each switch
   * and tick, so a difference over one short request says little; over a pass, within a tick).
   */
  readonly cpu?: { readonly start: number; readonly end: number };
}
