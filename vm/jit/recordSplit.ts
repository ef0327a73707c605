import { hashFn } from './recordWalk.js';
import { DescOff } from './xdpBatchDriver.js';
import { Code, I32, Op, encodeModule } from './wasm.js';

/**
 * recordSplit: the main thread's way through a stretch of a classic pcap capture (little-endian,
 * Ethernet, its records already checked by PcapReader.scan) when several workers run it: each
 * record's flow is hashed where it lies (flowHash, in WebAssembly: recordWalk's hash) and a
 * descriptor (DescOff, the XDP batch driver's) pointing at the packet in place is written for
 * the worker it hashes to, as a NIC's RSS writes a receive descriptor: no packet is copied, and
 * a worker then reads only its own packets. JavaScript would take several times as long per
 * record, on the thread that also reads the file.
 */

/**
 * split(p, end, workers, next, scale): for each record from `p` to `end`, a descriptor at the
 * address in the i32 at `next + 4 * worker`, which then moves on by DESC_BYTES; `scale`
 * makes the record's fraction of a second nanoseconds (1000 for microseconds).
 */
function splitFn(): Code {
  const [p, end, workers, next, scale, len, data, slot, d] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const c = new Code();
  c.op(Op.block, 0x40, Op.loop, 0x40);
  c.get(p).get(end).op(Op.i32_ge_u, Op.br_if).u(1);
  c.get(p).mem(Op.i32_load, 2, 8).set(len);
  c.get(p).i32(16).op(Op.i32_add).set(data);
  // the worker's next descriptor
  c.get(next).get(data).get(len).op(Op.call).u(0).get(workers).op(Op.i32_rem_u).i32(2).op(Op.i32_shl, Op.i32_add).tee(slot);
  c.mem(Op.i32_load, 2, 0).set(d);
  c.get(slot).get(d).i32(32).op(Op.i32_add).mem(Op.i32_store, 2, 0);
  c.get(d).i32(0).mem(Op.i32_store, 2, DescOff.HARD_START);
  c.get(d).i32(0).mem(Op.i32_store, 2, DescOff.ROOM);
  c.get(d).get(len).mem(Op.i32_store, 2, DescOff.LEN);
  // the wire length: the record's original length, or its caplen if that is more (PcapReader's)
  c.get(d).get(p).mem(Op.i32_load, 2, 12).get(len).get(p).mem(Op.i32_load, 2, 12).get(len).op(Op.i32_gt_u, Op.select);
  c.mem(Op.i32_store, 2, DescOff.WIRE_LEN);
  c.get(d).get(p).mem(Op.i32_load, 2, 0).mem(Op.i32_store, 2, DescOff.TS_SEC);
  c.get(d).get(p).mem(Op.i32_load, 2, 4).get(scale).op(Op.i32_mul).mem(Op.i32_store, 2, DescOff.TS_NSEC);
  c.get(d).get(data).mem(Op.i32_store, 2, DescOff.SRC);
  c.get(data).get(len).op(Op.i32_add).set(p).op(Op.br).u(0);
  c.op(Op.end, Op.end);
  return c;
}

let splitModule: WebAssembly.Module | undefined;

function module(): WebAssembly.Module {
  return (splitModule ??= new WebAssembly.Module(
    encodeModule({
      types: [
        { params: [I32, I32], results: [I32] },
        { params: [I32, I32, I32, I32, I32], results: [] },
      ],
      imports: [],
      maxPages: 65536,
      globals: [],
      funcs: [
        { type: 0, locals: Array(13).fill(I32), code: hashFn() },
        { type: 1, locals: Array(4).fill(I32), code: splitFn() },
      ],
      exports: [
        { name: 'hash', func: 0 },
        { name: 'split', func: 1 },
      ],
    }),
  ));
}

/** RecordSplitter: the split over one address space's memory. */
export class RecordSplitter {
  readonly split: (p: number, end: number, workers: number, next: number, scale: number) => void;
  readonly hash: (b: number, len: number) => number;

  constructor(memory: WebAssembly.Memory) {
    const x = new WebAssembly.Instance(module(), { env: { mem: memory } }).exports as Record<string, unknown>;
    this.split = x.split as RecordSplitter['split'];
    this.hash = x.hash as RecordSplitter['hash'];
  }
}
