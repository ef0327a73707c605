import type { WasmEntry } from '../vm/engine.js';
import { Class, JmpOp } from '../vm/opcodes.js';
import type { CheckedProgram } from '../vm/program.js';
import type { VerifiedProgram } from '../vm/verifier/verified.js';
import { Code, I32, MEMORY_COPY, Op, encodeModule } from '../vm/jit/wasm.js';
import type { HookRuntime } from './runtime.js';
import { XDP_MAX_LINEAR } from './testRun.js';
import { XDP_PACKET_HEADROOM, XdpMd } from './xdp.js';

/**
 * BATCH_HELPERS: the helpers an XDP program may call and still run in a batch: none of them
 * looks at the current packet (`HookRuntime.current`, which a batch does not set up) or
 * leaves work to JavaScript between runs (a tail call). Anything else runs packet by packet.
 */
const BATCH_HELPERS: ReadonlyMap<number, string> = new Map([
  [1, 'bpf_map_lookup_elem'], [2, 'bpf_map_update_elem'], [3, 'bpf_map_delete_elem'], [7, 'bpf_get_prandom_u32'],
  [8, 'bpf_get_smp_processor_id'], [42, 'bpf_get_numa_node_id'], [87, 'bpf_map_push_elem'], [88, 'bpf_map_pop_elem'], [89, 'bpf_map_peek_elem'],
  [93, 'bpf_spin_lock'], [94, 'bpf_spin_unlock'], [130, 'bpf_ringbuf_output'], [131, 'bpf_ringbuf_reserve'], [132, 'bpf_ringbuf_submit'],
  [133, 'bpf_ringbuf_discard'], [134, 'bpf_ringbuf_query'], [164, 'bpf_for_each_map_elem'], [165, 'bpf_snprintf'], [181, 'bpf_loop'],
  // the clock: only when it is the host's (a deterministic replay sets it from each packet's timestamp)
  [5, 'bpf_ktime_get_ns'], [125, 'bpf_ktime_get_boot_ns'], [160, 'bpf_ktime_get_coarse_ns'],
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

/**
 * Descriptor: one packet of a batch in the shared memory, DESC_BYTES apart (the replay's
 * ingress protocol, appliance/replay/protocol.ts, fills in the rest). HARD_START: the packet's
 * slot (its bytes at HARD_START + 256), or 0: it runs in the CPU's frame; SRC: where its LEN
 * bytes are to be copied from first (0: they are in the slot); RET: what the program returned.
 */
export const DESC_BYTES = 32;
export const DescOff = { HARD_START: 0, LEN: 8, SRC: 24, RET: 28 } as const;

let driverModule: WebAssembly.Module | undefined;

/**
 * driver: the Wasm module that runs a batch. `batch(desc, n, data, ctx, ifindex, rxq, top,
 * maxLen, from, inPlace)` does, from descriptor `from` on, what xdpIngress does for one packet
 * (copy it in, write xdp_md, run; with `inPlace`, for a program that never writes a packet,
 * bytes in the staging buffer run where they are) and stores r0's low 32 bits in RET. It
 * returns how many packets it ran: fewer than n when the next one is longer than `maxLen` (the
 * linear part: multi-buffer frames take the per-packet path). `cur` holds the index of the
 * packet running, so that a run that throws (a helper's fault) names its packet.
 */
function driver(): WebAssembly.Module {
  if (driverModule) return driverModule;
  // params, then the locals d (the descriptor), len, pkt (where the packet runs) and src
  const [desc, n, frameData, ctx, ifindex, rxq, top, maxLen, i, inPlace, d, len, pkt, src] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const G = { sp: 0, cur: 1 };
  const c = new Code();
  c.op(Op.block, 0x40, Op.loop, 0x40);
  c.get(i).get(n).op(Op.i32_ge_u, Op.br_if).u(1);
  c.get(desc).get(i).i32(5).op(Op.i32_shl, Op.i32_add).set(d);
  c.get(d).mem(Op.i32_load, 2, DescOff.LEN).tee(len).get(maxLen).op(Op.i32_gt_u, Op.br_if).u(1);
  // a packet with a slot runs there (HARD_START + headroom), else in the CPU's frame
  c.get(d).mem(Op.i32_load, 2, DescOff.HARD_START).tee(pkt).i32(XDP_PACKET_HEADROOM).op(Op.i32_add).get(frameData).get(pkt).op(Op.select).set(pkt);
  // bytes elsewhere: run them where they lie when nothing writes the packet, else copy them in
  c.get(d).mem(Op.i32_load, 2, DescOff.SRC).tee(src).op(Op.if, 0x40);
  c.get(inPlace).op(Op.if, 0x40).get(src).set(pkt).op(Op.else).get(pkt).get(src).get(len).op(...MEMORY_COPY).op(Op.end);
  c.op(Op.end);
  c.get(ctx).get(pkt).mem(Op.i32_store, 2, XdpMd.data);
  c.get(ctx).get(pkt).get(len).op(Op.i32_add).mem(Op.i32_store, 2, XdpMd.data_end);
  c.get(ctx).get(pkt).mem(Op.i32_store, 2, XdpMd.data_meta);
  c.get(ctx).get(ifindex).mem(Op.i32_store, 2, XdpMd.ingress_ifindex);
  c.get(ctx).get(rxq).mem(Op.i32_store, 2, XdpMd.rx_queue_index);
  c.get(ctx).i32(0).mem(Op.i32_store, 2, XdpMd.egress_ifindex);
  c.get(i).op(Op.global_set).u(G.cur);
  c.get(top).op(Op.global_set).u(G.sp);
  c.get(d).get(ctx).op(Op.call).u(0).mem(Op.i32_store, 2, DescOff.RET);
  c.get(i).i32(1).op(Op.i32_add).set(i);
  c.op(Op.br).u(0);
  c.op(Op.end, Op.end).get(i);
  const bytes = encodeModule({
    types: [{ params: [I32], results: [I32] }, { params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], results: [I32] }],
    imports: [{ name: 'prog', type: 0 }],
    globalImports: [{ name: 'sp', type: I32 }],
    maxPages: 65536,
    globals: [I32],
    funcs: [{ type: 1, locals: [I32, I32, I32, I32], code: c }],
    exports: [{ name: 'batch', func: 1 }, { name: 'cur', global: G.cur }],
  });
  return (driverModule = new WebAssembly.Module(bytes));
}

type BatchFn = (desc: number, n: number, data: number, ctx: number, ifindex: number, rxq: number, top: number, maxLen: number, from: number, inPlace: number) => number;

/**
 * XdpBatch runs a JIT-compiled XDP program over descriptors, many packets per call into
 * WebAssembly, on one CPU's frame and context. Build it only for an xdpBatchable program.
 */
export class XdpBatch {
  readonly #batch: BatchFn;
  readonly #cur: { value: number };
  readonly #entry: WasmEntry;
  readonly #rt: HookRuntime;
  readonly #ifindex: number;
  /** The program never writes a packet: packets run where they lie (no copy). */
  readonly inPlace: boolean;

  constructor(rt: HookRuntime, entry: WasmEntry, ifindex: number, inPlace: boolean) {
    this.inPlace = inPlace;
    const x = new WebAssembly.Instance(driver(), { env: { mem: rt.kernel.memory.memory, prog: entry.run32, sp: entry.sp } }).exports;
    this.#batch = x.batch as BatchFn;
    this.#cur = x.cur as unknown as { value: number };
    this.#entry = entry;
    this.#rt = rt;
    this.#ifindex = ifindex;
  }

  /**
   * run runs descriptors [from, n) at `desc` and returns where it stopped: n, or a packet the
   * batch does not take (longer than the linear part). A run that throws leaves `current`
   * naming its packet.
   */
  run(desc: number, from: number, n: number): number {
    const rt = this.#rt;
    const done = this.#batch(desc, n, rt.frame.start + XDP_PACKET_HEADROOM, rt.ctx.start, this.#ifindex, rt.cpu, this.#entry.top, XDP_MAX_LINEAR, from, this.inPlace ? 1 : 0);
    if (this.#entry.stop.value !== 0) throw new Error('internal: a batched program left work pending');
    return done;
  }

  /** current: the packet the last run was running (the one that threw, if it threw). */
  get current(): number {
    return this.#cur.value;
  }
}
