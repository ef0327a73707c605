import type { WasmGlobal } from '../engine.js';
import { BatchTally, countRun } from './batchTally.js';
import { Code, I32, Op, encodeModule } from './wasm.js';

/**
 * recordWalk: a replay worker's way through a stretch of a classic pcap capture (little-endian,
 * Ethernet) that no other thread has touched packet by packet. Every worker walks every record,
 * hashes its flow (in WebAssembly: the reference is flowHash, appliance/datapath/flowHash.ts,
 * which test/appliance/replayBatch.test.ts holds it to) and runs the packets that hash to it
 * through an imported `packet(hardStart, src, len)` (the XDP batch driver's). Return values
 * below BatchTally.VALUES are counted in memory (BatchTally); the rest are left to JavaScript,
 * as are packets longer than the linear part.
 */

/** Why `walk` stopped before `end`: the record at the returned position is JavaScript's to run (STOP_RUN), or ran and returned `ret` >= BatchTally.VALUES (STOP_TALLY). */
export const STOP_RUN = 1;
export const STOP_TALLY = 2;

const PRIME = 0x01000193;

/** hash(b, len): flowHash (appliance/datapath/flowHash.ts, the definition) of the `len`-byte frame at `b`. */
export function hashFn(): Code {
  const [b, len, end, off, type, a, z, n, proto, l4, pa, pz, i, h, x] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const c = new Code();
  // a big-endian 16-bit field at the address `at` pushes
  const be16 = (at: (c: Code) => Code): Code => {
    at(c).mem(Op.i32_load8_u, 0, 0).i32(8).op(Op.i32_shl);
    return at(c).mem(Op.i32_load8_u, 0, 1).op(Op.i32_or);
  };
  c.get(len).i32(14).op(Op.i32_lt_u, Op.if, 0x40).i32(0).op(Op.return, Op.end);
  c.get(b).get(len).op(Op.i32_add).set(end);
  c.get(b).i32(12).op(Op.i32_add).set(off);
  be16((c) => c.get(off)).set(type);
  // VLAN tags (802.1Q, 802.1ad)
  c.op(Op.block, 0x40, Op.loop, 0x40);
  c.get(type).i32(0x8100).op(Op.i32_eq).get(type).i32(0x88a8).op(Op.i32_eq, Op.i32_or, Op.i32_eqz, Op.br_if).u(1);
  c.get(off).i32(6).op(Op.i32_add).get(end).op(Op.i32_gt_u, Op.br_if).u(1);
  c.get(off).i32(4).op(Op.i32_add).set(off);
  be16((c) => c.get(off)).set(type);
  c.op(Op.br).u(0).op(Op.end, Op.end);
  c.get(off).i32(2).op(Op.i32_add).set(off);
  c.i32(-1).set(l4);
  // IPv4 / IPv6 / anything else: the endpoints a, z of n bytes, proto, where the ports are
  c.get(type).i32(0x0800).op(Op.i32_eq).get(off).i32(20).op(Op.i32_add).get(end).op(Op.i32_le_u, Op.i32_and, Op.if, 0x40);
  {
    c.get(off).i32(12).op(Op.i32_add).set(a).get(off).i32(16).op(Op.i32_add).set(z).i32(4).set(n);
    c.get(off).mem(Op.i32_load8_u, 0, 9).set(proto);
    // unfragmented: the ports follow the header
    c.get(off).mem(Op.i32_load8_u, 0, 6).i32(0x3f).op(Op.i32_and).get(off).mem(Op.i32_load8_u, 0, 7).op(Op.i32_or, Op.i32_eqz, Op.if, 0x40);
    c.get(off).get(off).mem(Op.i32_load8_u, 0, 0).i32(15).op(Op.i32_and).i32(2).op(Op.i32_shl, Op.i32_add).set(l4);
    c.op(Op.end);
  }
  c.op(Op.else);
  c.get(type).i32(0x86dd).op(Op.i32_eq).get(off).i32(40).op(Op.i32_add).get(end).op(Op.i32_le_u, Op.i32_and, Op.if, 0x40);
  c.get(off).i32(8).op(Op.i32_add).set(a).get(off).i32(24).op(Op.i32_add).set(z).i32(16).set(n);
  c.get(off).mem(Op.i32_load8_u, 0, 6).set(proto).get(off).i32(40).op(Op.i32_add).set(l4);
  c.op(Op.else);
  c.get(b).set(a).get(b).i32(6).op(Op.i32_add).set(z).i32(6).set(n).get(type).i32(0xff).op(Op.i32_and).set(proto);
  c.op(Op.end, Op.end);
  // ports: TCP, UDP, SCTP
  c.get(l4)
    .i32(0)
    .op(Op.i32_ge_s)
    .get(proto)
    .i32(6)
    .op(Op.i32_eq)
    .get(proto)
    .i32(17)
    .op(Op.i32_eq, Op.i32_or)
    .get(proto)
    .i32(132)
    .op(Op.i32_eq, Op.i32_or, Op.i32_and);
  c.get(l4).i32(4).op(Op.i32_add).get(end).op(Op.i32_le_u, Op.i32_and, Op.if, 0x40);
  be16((c) => c.get(l4)).set(pa);
  be16((c) => c.get(l4).i32(2).op(Op.i32_add)).set(pz);
  c.op(Op.end);
  // order the endpoints: bytewise, then by port
  c.i32(0).set(i).op(Op.block, 0x40, Op.loop, 0x40);
  c.get(i).get(n).op(Op.i32_ge_u, Op.if, 0x40).get(pa).get(pz).op(Op.i32_gt_u).set(x).op(Op.br).u(2).op(Op.end);
  c.get(a)
    .get(i)
    .op(Op.i32_add)
    .mem(Op.i32_load8_u, 0, 0)
    .get(z)
    .get(i)
    .op(Op.i32_add)
    .mem(Op.i32_load8_u, 0, 0)
    .op(Op.i32_ne, Op.if, 0x40);
  c.get(a)
    .get(i)
    .op(Op.i32_add)
    .mem(Op.i32_load8_u, 0, 0)
    .get(z)
    .get(i)
    .op(Op.i32_add)
    .mem(Op.i32_load8_u, 0, 0)
    .op(Op.i32_gt_u)
    .set(x)
    .op(Op.br)
    .u(2);
  c.op(Op.end);
  c.get(i).i32(1).op(Op.i32_add).set(i).op(Op.br).u(0).op(Op.end, Op.end);
  c.get(x).op(Op.if, 0x40).get(a).get(z).set(a).set(z).get(pa).get(pz).set(pa).set(pz).op(Op.end);
  // FNV-1a over both endpoints and the ports, then a finalizer
  c.i32(0x811c9dc5).get(proto).op(Op.i32_xor).set(h);
  for (const p of [a, z]) {
    c.i32(0).set(i).op(Op.block, 0x40, Op.loop, 0x40);
    c.get(i).get(n).op(Op.i32_ge_u, Op.br_if).u(1);
    c.get(h).get(p).get(i).op(Op.i32_add).mem(Op.i32_load8_u, 0, 0).op(Op.i32_xor).i32(PRIME).op(Op.i32_mul).set(h);
    c.get(i).i32(1).op(Op.i32_add).set(i).op(Op.br).u(0).op(Op.end, Op.end);
  }
  c.get(h).get(pa).op(Op.i32_xor).i32(PRIME).op(Op.i32_mul).set(h);
  c.get(h).get(pz).op(Op.i32_xor).i32(PRIME).op(Op.i32_mul).set(h);
  c.get(h).get(h).i32(16).op(Op.i32_shr_u, Op.i32_xor).i32(0x85ebca6b).op(Op.i32_mul).set(h);
  c.get(h).get(h).i32(13).op(Op.i32_shr_u, Op.i32_xor);
  return c;
}

/**
 * walk(p, end, workers, me, tally, maxLen): runs the records from `p` to `end` that hash to
 * worker `me` of `workers`; returns `end`, or the position of a record it stopped at, with
 * `stop` saying why (and `ret` the return value, for STOP_TALLY). `cur`: the record running.
 */
function walkFn(): Code {
  const [p, end, workers, me, tally, maxLen, len, data, r, t, ahead] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const G = { stop: 0, ret: 1, cur: 2, touched: 3 };
  const c = new Code();
  c.i32(0).op(Op.global_set).u(G.stop);
  c.op(Op.block, 0x40, Op.loop, 0x40);
  c.get(p).get(end).op(Op.i32_ge_u, Op.br_if).u(1);
  c.get(p).mem(Op.i32_load, 2, 8).set(len);
  c.get(p).i32(16).op(Op.i32_add).set(data);
  // touch the next record's header now, so that its cache miss overlaps this one's work
  c.get(data)
    .get(len)
    .op(Op.i32_add)
    .tee(ahead)
    .get(end)
    .op(Op.i32_lt_u, Op.if, 0x40)
    .get(ahead)
    .mem(Op.i32_load, 2, 8)
    .get(ahead)
    .mem(Op.i32_load, 2, 32)
    .op(Op.i32_add)
    .op(Op.global_set)
    .u(G.touched)
    .op(Op.end);
  // another worker's packet: on to the next record
  c.get(workers).i32(1).op(Op.i32_gt_u, Op.if, 0x40);
  c.get(data).get(len).op(Op.call).u(1).get(workers).op(Op.i32_rem_u).get(me).op(Op.i32_ne, Op.if, 0x40);
  c.get(data).get(len).op(Op.i32_add).set(p).op(Op.br).u(2);
  c.op(Op.end, Op.end);
  c.get(len).get(maxLen).op(Op.i32_gt_u, Op.if, 0x40).i32(STOP_RUN).op(Op.global_set).u(G.stop).op(Op.br).u(2).op(Op.end);
  c.get(p).op(Op.global_set).u(G.cur);
  c.i32(0).get(data).get(len).op(Op.call).u(0).tee(r).i32(BatchTally.VALUES).op(Op.i32_ge_u, Op.if, 0x40);
  c.get(r).op(Op.global_set).u(G.ret).i32(STOP_TALLY).op(Op.global_set).u(G.stop).op(Op.br).u(2);
  c.op(Op.end);
  countRun(c, { tally, ret: r, len, t });
  c.get(data).get(len).op(Op.i32_add).set(p).op(Op.br).u(0);
  c.op(Op.end, Op.end).get(p);
  return c;
}

let walkModule: WebAssembly.Module | undefined;

function module(): WebAssembly.Module {
  if (walkModule) return walkModule;
  const bytes = encodeModule({
    types: [
      { params: [I32, I32, I32], results: [I32] },
      { params: [I32, I32], results: [I32] },
      { params: [I32, I32, I32, I32, I32, I32], results: [I32] },
    ],
    imports: [{ name: 'packet', type: 0 }],
    maxPages: 65536,
    globals: [I32, I32, I32, I32],
    funcs: [
      { type: 1, locals: Array(13).fill(I32), code: hashFn() },
      { type: 2, locals: [I32, I32, I32, I32, I32], code: walkFn() },
    ],
    exports: [
      { name: 'hash', func: 1 },
      { name: 'walk', func: 2 },
      { name: 'stop', global: 0 },
      { name: 'ret', global: 1 },
      { name: 'cur', global: 2 },
    ],
  });
  return (walkModule = new WebAssembly.Module(bytes));
}

type Globals = Record<'stop' | 'ret' | 'cur', WasmGlobal>;

/** RecordWalker: one worker's instance of the walk, over the `packet` it runs packets with (its XdpBatch's). */
export class RecordWalker {
  readonly walk: (p: number, end: number, workers: number, me: number, tally: number, maxLen: number) => number;
  readonly hash: (b: number, len: number) => number;
  readonly #g: Globals;

  constructor(memory: WebAssembly.Memory, packet: (hardStart: number, src: number, len: number) => number) {
    const x = new WebAssembly.Instance(module(), { env: { mem: memory, packet } }).exports as Record<string, unknown>;
    this.walk = x.walk as RecordWalker['walk'];
    this.hash = x.hash as RecordWalker['hash'];
    this.#g = { stop: x.stop, ret: x.ret, cur: x.cur } as Globals;
  }

  get stop(): number {
    return this.#g.stop.value;
  }

  get ret(): number {
    return this.#g.ret.value;
  }

  get current(): number {
    return this.#g.cur.value;
  }
}
