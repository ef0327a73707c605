import type { Device, Route, Neighbour } from '../../hooks/helpers/fib.js';
import type { CpuRegions } from '../../hooks/runtime.js';
import type { AddressSpaceSnapshot } from '../../vm/memory.js';
import type { ProgTransfer } from './progTransfer.js';

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
  readonly ifindexes?: readonly number[];
  readonly engine?: string;
}

/**
 * Per packet in a batch, main to worker: its slot, where its bytes are (SRC: in the staging
 * buffer the capture was read into, to be copied into the slot by the worker; 0: already in
 * the slot) and when it came. HARD_START 0: no slot; the worker copies the packet into its
 * own frame (nothing needs the packet after its verdict: no output files).
 */
export const IN_FIELDS = 7;
export const In = { HARD_START: 0, ROOM: 1, LEN: 2, WIRE_LEN: 3, TS_SEC: 4, TS_NSEC: 5, SRC: 6 } as const;

/** Per packet, worker to main: the return value and where the packet is now. */
export const OUT_FIELDS = 4;
export const Out = { RETVAL: 0, START: 1, LEN: 2, FLAGS: 3 } as const;
/** FLAGS bits: the run faulted; an extra record carries more (a redirect target, bytes past the linear part, clones). */
export const OutFlag = { FAULT: 1, EXTRA: 2 } as const;

/** BatchRequest: a batch of packets already in the shared memory. */
export interface BatchRequest {
  readonly id: number;
  readonly packets: Int32Array;
}

/** PacketExtra: what does not fit in the fixed fields. */
export interface PacketExtra {
  readonly i: number;
  readonly fault?: string;
  readonly redirect?: string;
  readonly tail?: Uint8Array;
  readonly clones?: number;
}

/** BatchResult: the results of a batch, in the batch's order. */
export interface BatchResult {
  readonly id: number;
  readonly results: Int32Array;
  readonly extras: PacketExtra[];
  readonly traces: string[];
  readonly ns: number;
  /** Run times (ns) of one packet in 64, for the run-time histogram. */
  readonly samples: number[];
}
