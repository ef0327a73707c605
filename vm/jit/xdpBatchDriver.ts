import { BatchTally, countRun } from './batchTally.js';
import { Code, I32, MEMORY_COPY, Op, encodeModule } from './wasm.js';
import { XDP_PACKET_HEADROOM, XdpMd } from '../../uapi/xdp.js';

/**
 * DescOff: the descriptor of one packet of a batch in the shared memory, by byte offset:
 * eight u32 words, descriptors DESC_BYTES apart.
 *
 *    0            4      8     12         16       20        24    28    32
 *   +------------+------+-----+----------+--------+---------+-----+-----+
 *   | hard_start | room | len | wire_len | ts_sec | ts_nsec | src | ret |
 *   +------------+------+-----+----------+--------+---------+-----+-----+
 *
 * hard_start: the packet's slot, `room` bytes (IngressSlot), its bytes at hard_start +
 * XDP_PACKET_HEADROOM; 0: no slot, it runs in the CPU's frame. len: its bytes; src: where
 * they are to be copied from first (0: they are in the slot). ret: what the program
 * returned, written back. The batch driver reads hard_start, len and src and writes ret;
 * wire_len and the timestamp are for a packet run on its own (the replay's per-packet path,
 * appliance/datapath/worker.ts: IngressSlot's wireLen and tstamp). The layout is the batch
 * driver's (xdpBatchDriver, below): it lives with the Wasm that reads it.
 */
export const DescOff = { HARD_START: 0, ROOM: 4, LEN: 8, WIRE_LEN: 12, TS_SEC: 16, TS_NSEC: 20, SRC: 24, RET: 28 } as const;
/** log2 of a descriptor's size (the driver finds descriptor i at desc + (i << DESC_SHIFT)). */
const DESC_SHIFT = 5;
/** DESC_BYTES: the size of a descriptor (DescOff), 32. */
export const DESC_BYTES = 1 << DESC_SHIFT;
/** DESC_WORDS: a descriptor's size in 32-bit words, to step through descriptors in an Int32Array. */
export const DESC_WORDS = DESC_BYTES / 4;
/** DescWord: DescOff in 32-bit words, to index a descriptor in an Int32Array. */
export const DescWord = Object.fromEntries(Object.entries(DescOff).map(([k, v]) => [k, v / 4])) as {
  readonly [K in keyof typeof DescOff]: number;
};

let driverModule: WebAssembly.Module | undefined;

/** The driver's globals: sp (imported from the program), then its own, exported. */
const G = { sp: 0, cur: 1, frameData: 2, ctx: 3, ifindex: 4, rxq: 5, top: 6, inPlace: 7, touched: 8 } as const;
/** A batch touches the bytes of packets this many ahead, this many at a time (a power of 2). */
const LOOK_AHEAD = 16;
/** XDP_BATCH_SETTINGS: the driver's globals its user sets once (hooks/xdpBatch.ts's XdpBatch), exported by these names. */
export const XDP_BATCH_SETTINGS = ['frameData', 'ctx', 'ifindex', 'rxq', 'top', 'inPlace'] as const;

/**
 * xdpBatchDriver: the Wasm module that runs packets through a compiled program. `packet(hardStart,
 * src, len)` does what xdpIngress does for one packet: the packet runs in its slot (hardStart
 * + XDP_PACKET_HEADROOM) or, hardStart 0, in the CPU's frame; bytes at `src` (non-zero) are copied there
 * first, or with `inPlace` (a program that never writes a packet) run where they are; then
 * xdp_md, and the program, whose r0's low 32 bits it returns. `batch(desc, n, from, maxLen,
 * tally)` runs descriptors from `from` on, storing RET, and returns how many it ran: fewer
 * than n when the next is longer than `maxLen` (the linear part: multi-buffer frames take the
 * per-packet path); with `tally` (an address, else 0) it also counts them there (BatchTally).
 * `cur` holds the index of the packet running, so that a run that throws (a helper's fault)
 * names its packet. The rest of the settings are globals set once.
 */
export function xdpBatchDriver(): WebAssembly.Module {
  if (driverModule) return driverModule;
  const packet = new Code();
  {
    const [hs, src, len, pkt] = [0, 1, 2, 3];
    packet.get(hs).i32(XDP_PACKET_HEADROOM).op(Op.i32_add).op(Op.global_get).u(G.frameData).get(hs).op(Op.select).set(pkt);
    packet.get(src).op(Op.if, 0x40);
    packet
      .op(Op.global_get)
      .u(G.inPlace)
      .op(Op.if, 0x40)
      .get(src)
      .set(pkt)
      .op(Op.else)
      .get(pkt)
      .get(src)
      .get(len)
      .op(...MEMORY_COPY)
      .op(Op.end);
    packet.op(Op.end);
    const ctx = (field: number, value: (c: Code) => Code) => value(packet.op(Op.global_get).u(G.ctx)).mem(Op.i32_store, 2, field);
    ctx(XdpMd.data, (c) => c.get(pkt));
    ctx(XdpMd.data_end, (c) => c.get(pkt).get(len).op(Op.i32_add));
    ctx(XdpMd.data_meta, (c) => c.get(pkt));
    ctx(XdpMd.ingress_ifindex, (c) => c.op(Op.global_get).u(G.ifindex));
    ctx(XdpMd.rx_queue_index, (c) => c.op(Op.global_get).u(G.rxq));
    ctx(XdpMd.egress_ifindex, (c) => c.i32(0));
    packet.op(Op.global_get).u(G.top).op(Op.global_set).u(G.sp);
    packet.op(Op.global_get).u(G.ctx).op(Op.call).u(0);
  }
  const batch = new Code();
  {
    const [desc, n, i, maxLen, tally, d, len, ahead, end, src, ret, t] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    batch.op(Op.block, 0x40, Op.loop, 0x40);
    batch.get(i).get(n).op(Op.i32_ge_u, Op.br_if).u(1);
    batch.get(desc).get(i).i32(DESC_SHIFT).op(Op.i32_shl, Op.i32_add).set(d);
    // every LOOK_AHEAD packets, touch the first bytes of the next LOOK_AHEAD, all at once so that
    // their cache misses overlap (a preloaded capture is mostly not in cache; Wasm has no prefetch)
    batch
      .get(i)
      .i32(LOOK_AHEAD - 1)
      .op(Op.i32_and, Op.i32_eqz, Op.if, 0x40);
    batch
      .get(d)
      .i32(LOOK_AHEAD * DESC_BYTES)
      .op(Op.i32_add)
      .set(ahead);
    batch
      .get(i)
      .i32(2 * LOOK_AHEAD)
      .op(Op.i32_add)
      .get(n)
      .op(Op.i32_gt_u)
      .op(Op.if, 0x40)
      .get(desc)
      .get(n)
      .i32(DESC_SHIFT)
      .op(Op.i32_shl, Op.i32_add)
      .set(end)
      .op(Op.else)
      .get(ahead)
      .i32(LOOK_AHEAD * DESC_BYTES)
      .op(Op.i32_add)
      .set(end)
      .op(Op.end);
    batch.op(Op.block, 0x40, Op.loop, 0x40).get(ahead).get(end).op(Op.i32_ge_u, Op.br_if).u(1);
    // the first bytes and those 32 on (an IPv4 header's addresses, wherever the cache line starts)
    batch
      .get(ahead)
      .mem(Op.i32_load, 2, DescOff.SRC)
      .tee(src)
      .op(Op.if, 0x40)
      .get(src)
      .mem(Op.i32_load8_u, 0, 0)
      .get(src)
      .mem(Op.i32_load8_u, 0, 32)
      .op(Op.i32_add);
    batch.op(Op.global_get).u(G.touched).op(Op.i32_add).op(Op.global_set).u(G.touched).op(Op.end);
    batch.get(ahead).i32(DESC_BYTES).op(Op.i32_add).set(ahead).op(Op.br).u(0).op(Op.end, Op.end);
    batch.op(Op.end);
    batch.get(d).mem(Op.i32_load, 2, DescOff.LEN).tee(len).get(maxLen).op(Op.i32_gt_u, Op.br_if).u(1);
    batch.get(i).op(Op.global_set).u(G.cur);
    batch
      .get(d)
      .get(d)
      .mem(Op.i32_load, 2, DescOff.HARD_START)
      .get(d)
      .mem(Op.i32_load, 2, DescOff.SRC)
      .get(len)
      .op(Op.call)
      .u(1)
      .tee(ret)
      .mem(Op.i32_store, 2, DescOff.RET);
    // the tally: packets and bytes by return value below 8, a count of the rest
    batch.get(tally).op(Op.if, 0x40).get(ret).i32(BatchTally.VALUES).op(Op.i32_lt_u, Op.if, 0x40);
    countRun(batch, { tally, ret, len, t });
    batch
      .op(Op.else)
      .get(tally)
      .get(tally)
      .mem(Op.i32_load, 2, BatchTally.OTHERS)
      .i32(1)
      .op(Op.i32_add)
      .mem(Op.i32_store, 2, BatchTally.OTHERS);
    batch.op(Op.end, Op.end);
    batch.get(i).i32(1).op(Op.i32_add).set(i);
    batch.op(Op.br).u(0);
    batch.op(Op.end, Op.end).get(i);
  }
  const bytes = encodeModule({
    types: [
      { params: [I32], results: [I32] },
      { params: [I32, I32, I32], results: [I32] },
      { params: [I32, I32, I32, I32, I32], results: [I32] },
    ],
    imports: [{ name: 'prog', type: 0 }],
    globalImports: [{ name: 'sp', type: I32 }],
    maxPages: 65536,
    globals: [I32, I32, I32, I32, I32, I32, I32, I32],
    funcs: [
      { type: 1, locals: [I32], code: packet },
      { type: 2, locals: [I32, I32, I32, I32, I32, I32, I32], code: batch },
    ],
    exports: [
      { name: 'packet', func: 1 },
      { name: 'batch', func: 2 },
      { name: 'cur', global: G.cur },
      ...XDP_BATCH_SETTINGS.map((name) => ({ name, global: G[name] })),
    ],
  });
  return (driverModule = new WebAssembly.Module(bytes));
}
