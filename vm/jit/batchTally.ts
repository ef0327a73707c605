import { type Code, Op } from './wasm.js';

/**
 * BatchTally: what Wasm code that runs packets in batches (the XDP batch driver,
 * hooks/xdpBatch.ts; the record walk, recordWalk.ts) counts at a tally address, by the
 * program's return value r (r0's low 32 bits), in a page of the CPU's own:
 *
 *    0         8         16        ...  r << 4    + 8       ...  128       132   136
 *   +---------+---------+---------+-----+---------+---------+-----+---------+-----+
 *   | packets | bytes   | packets | ... | packets | bytes   | ... | OTHERS  | pad |
 *   |  r = 0  |  r = 0  |  r = 1  |     |    r    |    r    |     |  u32    |     |
 *   +---------+---------+---------+-----+---------+---------+-----+---------+-----+
 *
 * u64 counts for each r below VALUES (the XDP actions and then some); OTHERS: how many runs
 * returned VALUES or more, whose return values the caller looks up packet by packet. BYTES:
 * the size of the whole, which the reader zeroes after reading.
 */
export const BatchTally = { VALUES: 8, ROW_SHIFT: 4, PACKETS: 0, PACKET_BYTES: 8, OTHERS: 128, BYTES: 136 } as const;

/** TallyLocals: the Wasm locals countRun reads: the tally address, the return value, the packet's length, and one for scratch. */
export interface TallyLocals {
  readonly tally: number;
  readonly ret: number;
  readonly len: number;
  readonly t: number;
}

/** countRun emits code that counts one run that returned `ret` (below BatchTally.VALUES) on a packet of `len` bytes. */
export function countRun(c: Code, l: TallyLocals): Code {
  c.get(l.tally).get(l.ret).i32(BatchTally.ROW_SHIFT).op(Op.i32_shl, Op.i32_add).tee(l.t);
  c.get(l.t).mem(Op.i64_load, 3, BatchTally.PACKETS).i64(1n).op(Op.i64_add).mem(Op.i64_store, 3, BatchTally.PACKETS);
  return c
    .get(l.t)
    .get(l.t)
    .mem(Op.i64_load, 3, BatchTally.PACKET_BYTES)
    .get(l.len)
    .op(Op.i64_extend_i32_u, Op.i64_add)
    .mem(Op.i64_store, 3, BatchTally.PACKET_BYTES);
}
