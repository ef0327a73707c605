import type { WasmEntry, WasmGlobal } from '../vm/engine.js';
import { Class, JmpOp } from '../vm/opcodes.js';
import type { CheckedProgram } from '../vm/program.js';
import type { VerifiedProgram } from '../vm/verifier/verified.js';
import { XDP_BATCH_SETTINGS, xdpBatchDriver } from '../vm/jit/xdpBatchDriver.js';
import type { HookRuntime } from './runtime.js';
import { XDP_MAX_LINEAR } from './testRun.js';
import { XDP_PACKET_HEADROOM } from '../uapi/xdp.js';

/**
 * BATCH_HELPERS: the helpers an XDP program may call and still run in a batch: none of them
 * looks at the current packet (`HookRuntime.current`, which a batch does not set up) or
 * leaves work to JavaScript between runs (a tail call). Anything else runs packet by packet.
 */
const BATCH_HELPERS: ReadonlyMap<number, string> = new Map([
  [1, 'bpf_map_lookup_elem'],
  [2, 'bpf_map_update_elem'],
  [3, 'bpf_map_delete_elem'],
  [7, 'bpf_get_prandom_u32'],
  [8, 'bpf_get_smp_processor_id'],
  [42, 'bpf_get_numa_node_id'],
  [87, 'bpf_map_push_elem'],
  [88, 'bpf_map_pop_elem'],
  [89, 'bpf_map_peek_elem'],
  [93, 'bpf_spin_lock'],
  [94, 'bpf_spin_unlock'],
  [130, 'bpf_ringbuf_output'],
  [131, 'bpf_ringbuf_reserve'],
  [132, 'bpf_ringbuf_submit'],
  [133, 'bpf_ringbuf_discard'],
  [134, 'bpf_ringbuf_query'],
  [164, 'bpf_for_each_map_elem'],
  [165, 'bpf_snprintf'],
  [181, 'bpf_loop'],
  // the clock: only when it is the host's (a deterministic replay sets it from each packet's timestamp)
  [5, 'bpf_ktime_get_ns'],
  [125, 'bpf_ktime_get_boot_ns'],
  [160, 'bpf_ktime_get_coarse_ns'],
]);
const CLOCK = new Set([5, 125, 160]);

/** xdpBatchable tells whether a program can run in batches: every helper it calls is a BATCH_HELPER. */
export function xdpBatchable(program: CheckedProgram | VerifiedProgram, deterministic: boolean): boolean {
  for (const i of program.insns) {
    if (i.opcode !== (Class.BPF_JMP | JmpOp.BPF_CALL) || i.src !== 0) continue;
    const id = Number(i.imm);
    if (!BATCH_HELPERS.has(id) || (deterministic && CLOCK.has(id))) return false;
  }
  return true;
}

/** PacketFn: the driver's `packet(hardStart, src, len)`, r0 back; other Wasm modules may import it. */
export type PacketFn = (hardStart: number, src: number, len: number) => number;

/**
 * XdpBatch runs a JIT-compiled XDP program over descriptors, many packets per call into
 * WebAssembly, on one CPU's frame and context. Build it only for an xdpBatchable program.
 */
export class XdpBatch {
  readonly #batch: (desc: number, n: number, from: number, maxLen: number, tally: number) => number;
  readonly #cur: WasmGlobal;
  readonly #entry: WasmEntry;
  readonly #ifindex: WasmGlobal;
  /** The driver's per-packet function (see xdpBatchDriver()), for a module that finds packets itself. */
  readonly packet: PacketFn;
  /** The program never writes a packet: packets run where they lie (no copy). */
  readonly inPlace: boolean;

  constructor(rt: HookRuntime, entry: WasmEntry, ifindex: number, inPlace: boolean) {
    this.inPlace = inPlace;
    const x = new WebAssembly.Instance(xdpBatchDriver(), { env: { mem: rt.kernel.memory.memory, prog: entry.run32, sp: entry.sp } })
      .exports as Record<string, unknown>;
    const settings = {
      frameData: rt.frame.start + XDP_PACKET_HEADROOM,
      ctx: rt.ctx.start,
      ifindex,
      rxq: rt.cpu,
      top: entry.top,
      inPlace: inPlace ? 1 : 0,
    };
    for (const name of XDP_BATCH_SETTINGS) (x[name] as WasmGlobal).value = settings[name];
    this.#batch = x.batch as (desc: number, n: number, from: number, maxLen: number, tally: number) => number;
    this.packet = x.packet as PacketFn;
    this.#cur = x.cur as WasmGlobal;
    this.#ifindex = x.ifindex as WasmGlobal;
    this.#entry = entry;
  }

  /**
   * run runs descriptors [from, n) at `desc` and returns where it stopped: n, or a packet the
   * batch does not take (longer than the linear part). A run that throws leaves `current`
   * naming its packet. With `tally` (an address) the runs are counted there (BatchTally).
   */
  run(desc: number, from: number, n: number, tally = 0): number {
    const done = this.#batch(desc, n, from, XDP_MAX_LINEAR, tally);
    this.checkStop();
    return done;
  }

  /** setIfindex: the interface the next packets arrived on (xdp_md ingress_ifindex). */
  setIfindex(ifindex: number): void {
    this.#ifindex.value = ifindex;
  }

  /** checkStop: batched programs call nothing that leaves work to JavaScript (xdpBatchable). */
  checkStop(): void {
    if (this.#entry.stop.value !== 0) throw new Error('internal: a batched program left work pending');
  }

  /** current: the packet the last run was running (the one that threw, if it threw). */
  get current(): number {
    return this.#cur.value;
  }
}
