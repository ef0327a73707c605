import { FileOut } from './fileOut.js';
import { LinkType } from './linkType.js';
import type { PacketOut } from './pcapWriter.js';
import { BYTE_ORDER_MAGIC, Block } from './pcapngReader.js';
import { MAX_RECORD } from './record.js';

/** epb_verdict types (pcapng option 7): hardware, Linux eBPF tc, Linux eBPF XDP. */
export const VerdictType = { HARDWARE: 0, LINUX_EBPF_TC: 1, LINUX_EBPF_XDP: 2 } as const;

/** PacketVerdict: the verdict an EPB carries (type and value) and an optional comment. */
export interface PacketVerdict {
  readonly type?: number;
  readonly value?: number;
  readonly comment?: string;
  /** epb_queue: the receive queue (replay: the worker, i.e. the CPU, that ran the packet). */
  readonly queue?: number;
}

const OPT_COMMENT = 1;
const OPT_SHB_USERAPPL = 4;
const OPT_IF_TSRESOL = 9;
const OPT_EPB_VERDICT = 7;
const OPT_EPB_QUEUE = 6;

/**
 * PcapngWriter writes a little-endian pcapng section with one interface (nanosecond
 * timestamps) and an EPB per packet; a packet's verdict goes in an epb_verdict option, as
 * xdpdump writes it (type 2 with the 8-byte XDP action, type 1 with the TC_ACT_* value).
 */
export class PcapngWriter {
  readonly #out: FileOut;
  packets = 0;

  constructor(path: string, options: { linkType?: number; snapLen?: number; application?: string; interfaceName?: string } = {}) {
    this.#out = new FileOut(path);
    this.#block(
      Block.SHB,
      16,
      (b, at) => {
        b.writeUInt32LE(BYTE_ORDER_MAGIC, at);
        b.writeUInt16LE(1, at + 4);
        b.writeUInt16LE(0, at + 6);
        b.writeBigInt64LE(-1n, at + 8); // section length unknown
      },
      [[OPT_SHB_USERAPPL, Buffer.from(options.application ?? 'bpfbox')]],
    );
    this.#block(
      Block.IDB,
      8,
      (b, at) => {
        b.writeUInt16LE(options.linkType ?? LinkType.LINKTYPE_ETHERNET, at);
        b.writeUInt16LE(0, at + 2);
        b.writeUInt32LE(options.snapLen ?? MAX_RECORD, at + 4);
      },
      [[OPT_IF_TSRESOL, Buffer.from([9])], ...(options.interfaceName ? [[2, Buffer.from(options.interfaceName)] as [number, Buffer]] : [])],
    );
  }

  write(p: PacketOut, verdict?: PacketVerdict): void {
    const n = p.data.length;
    const opts: [number, Uint8Array][] = [];
    if (verdict?.type !== undefined && verdict.value !== undefined) {
      const v = Buffer.alloc(9);
      v[0] = verdict.type;
      v.writeBigUInt64LE(BigInt.asUintN(64, BigInt(verdict.value)), 1);
      opts.push([OPT_EPB_VERDICT, v]);
    }
    if (verdict?.queue !== undefined) opts.push([OPT_EPB_QUEUE, Uint8Array.from(Buffer.from(new Uint32Array([verdict.queue]).buffer))]);
    if (verdict?.comment) opts.push([OPT_COMMENT, Buffer.from(verdict.comment)]);
    const ts = BigInt(p.tsSec) * 1_000_000_000n + BigInt(p.tsNsec);
    this.#block(
      Block.EPB,
      20 + ((n + 3) & ~3),
      (b, at) => {
        b.writeUInt32LE(0, at);
        b.writeUInt32LE(Number(ts >> 32n), at + 4);
        b.writeUInt32LE(Number(ts & 0xffffffffn), at + 8);
        b.writeUInt32LE(n, at + 12);
        b.writeUInt32LE(Math.max(n, p.origLen ?? n), at + 16);
        b.set(p.data, at + 20);
        b.fill(0, at + 20 + n, at + 20 + ((n + 3) & ~3));
      },
      opts,
    );
    this.packets++;
  }

  /** #block writes one block: the fixed body of `fixed` bytes, the options, the lengths. */
  #block(type: number, fixed: number, body: (b: Buffer, at: number) => void, options: readonly [number, Uint8Array][]): void {
    const optLen = options.length ? options.reduce((s, [, v]) => s + 4 + ((v.length + 3) & ~3), 0) + 4 : 0;
    const len = 8 + fixed + optLen + 4;
    const { buf, at } = this.#out.reserve(len);
    buf.writeUInt32LE(type, at);
    buf.writeUInt32LE(len, at + 4);
    body(buf, at + 8);
    let o = at + 8 + fixed;
    for (const [code, v] of options) {
      buf.writeUInt16LE(code, o);
      buf.writeUInt16LE(v.length, o + 2);
      buf.set(v, o + 4);
      buf.fill(0, o + 4 + v.length, o + 4 + ((v.length + 3) & ~3));
      o += 4 + ((v.length + 3) & ~3);
    }
    if (optLen) (buf.writeUInt32LE(0, o), (o += 4)); // opt_endofopt
    buf.writeUInt32LE(len, o);
    this.#out.commit(len);
  }

  close(): void {
    this.#out.close();
  }
}
