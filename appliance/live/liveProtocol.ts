import type { WorkerInit } from '../datapath/protocol.js';

/** LiveIface: an interface a live worker opens: its peer (an index into the list; -1 in a tap) and its fanout group. */
export interface LiveIface {
  readonly name: string;
  readonly ifindex: number;
  readonly peer: number;
  /** PACKET_FANOUT group id, the same in every worker for this interface (0: no fanout, one worker). */
  readonly fanoutGroup: number;
}

/** OnError: what the bridge does when a worker dies or cannot run the program: drop (fail-closed) or pass unexamined (fail-open). */
export type OnError = 'drop' | 'pass';
/** Offloads: 'off' (wire-size frames: offloads turned off, GSO split, partial checksums completed) or 'passthrough' (PACKET_VNET_HDR both ways). */
export type Offloads = 'off' | 'passthrough';

/** RingSpec: the receive ring of every socket: TPACKET_V2 (inline) or V3 (tap), its frames and their size. */
export interface RingSpec {
  readonly version: 2 | 3;
  readonly frames: number;
  readonly frameSize: number;
}

/**
 * LiveWorkerInit: a live worker: one emulated CPU with its sockets. `mode` 'program' runs
 * the program; 'pass' and 'drop' are the on-error stand-ins that take a dead worker's place
 * (forwarding to the peer unexamined, or dropping), counted as `unrun`.
 */
export interface LiveWorkerInit extends WorkerInit {
  readonly live: {
    readonly ifaces: readonly LiveIface[];
    readonly mode: 'program' | OnError;
    readonly offloads: Offloads;
    readonly ring: RingSpec;
    readonly qdiscBypass: boolean;
    /** Float64 counters (counters.ts CounterLayout); this worker's block is `block` (a stand-in gets a block of its own). */
    readonly counters: SharedArrayBuffer;
    readonly block: number;
    /** Int32 control words (Control). */
    readonly control: SharedArrayBuffer;
    /** This worker's regions of the shared memory: descriptors (BATCH of them), and the slots rx fills. */
    readonly desc: number;
    readonly slotAt: number;
    readonly slotEnd: number;
    /** Send every run packet (with its verdict) to the main thread, for --out. */
    readonly capture: boolean;
    /** Test-only fault injection (BPFBOX_LIVE_FAULT=cpu:N:after:K): this worker throws after K frames. */
    readonly failAfter?: number;
  };
}

/** Control: the words of the control page: STOP (non-zero: finish the batch, close the sockets, exit). */
export const Control = { STOP: 0 } as const;
export const CONTROL_WORDS = 1;

/** Frames per batch (one rx call per interface). */
export const LIVE_BATCH = 256;

/** LiveMessage: worker to main. */
export type LiveMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'opened' }
  | { readonly kind: 'failed'; readonly message: string; readonly code?: string }
  | { readonly kind: 'packets'; readonly iface: number; readonly records: ArrayBuffer; readonly n: number }
  | { readonly kind: 'warning'; readonly message: string }
  | { readonly kind: 'stopped' };

/**
 * CapturedRecord: a packet sent for --out: RECORD_WORDS u32 words (the verdict's row in
 * VERDICT_NAMES, its retval, the bytes kept, the length on the wire, the timestamp, flags)
 * and then its bytes, padded to 4.
 */
export const Rec = { VERDICT: 0, RETVAL: 1, LEN: 2, WIRE_LEN: 3, TS_SEC: 4, TS_NSEC: 5, FLAGS: 6 } as const;
export const RECORD_WORDS = 7;
