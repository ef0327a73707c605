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

/** TWO_64: an EPB's timestamp is an unsigned 64-bit count of if_tsresol units. */
const TWO_64 = 1n << 64n;

/**
 * TS_RESOLUTIONS: the if_tsresol values (decimal exponents) the writer uses, finest first.
 * Interface 0 has nanoseconds; an instant that nanoseconds cannot hold in 64 bits (after the
 * year 2554, or before 1970) goes to an interface of the finest resolution that holds it
 * exactly, added when first needed (pcapng allows an IDB anywhere in its section).
 */
const TS_RESOLUTIONS = [9, 6, 3, 0] as const;

/**
 * tsUnits: the instant (`sec`, `nsec`) as an EPB timestamp at 10^-`exp` seconds, or undefined
 * if it is not a whole number of those units within 64 bits. A negative count of seconds is
 * written in two's complement at 10^0, which readers that keep time_t (Wireshark's
 * wiretap) read back as the same negative second, as they read it in the input.
 */
function tsUnits(sec: number, nsec: number, exp: number): bigint | undefined {
  const per = 10n ** BigInt(9 - exp);
  const ns = BigInt(sec) * 1_000_000_000n + BigInt(nsec);
  if (ns % per !== 0n) return undefined;
  const units = ns / per;
  if (units >= TWO_64) return undefined;
  if (units < 0n) return exp === 0 && units >= -(TWO_64 >> 1n) ? units + TWO_64 : undefined;
  return units;
}

/**
 * PcapngWriter writes a little-endian pcapng section with one interface (nanosecond
 * timestamps) and an EPB per packet; a packet's verdict goes in an epb_verdict option, as
 * xdpdump writes it (type 2 with the 8-byte XDP action, type 1 with the TC_ACT_* value).
 * A timestamp nanoseconds cannot carry goes under a coarser interface (TS_RESOLUTIONS).
 */
export class PcapngWriter {
  readonly #out: FileOut;
  readonly #idb: { linkType: number; snapLen: number; interfaceName?: string };
  /** The interface index of each if_tsresol written so far. */
  readonly #ifaceOf = new Map<number, number>();
  packets = 0;

  constructor(path: string, options: { linkType?: number; snapLen?: number; application?: string; interfaceName?: string } = {}) {
    this.#out = new FileOut(path);
    this.#idb = {
      linkType: options.linkType ?? LinkType.LINKTYPE_ETHERNET,
      snapLen: options.snapLen ?? MAX_RECORD,
      interfaceName: options.interfaceName,
    };
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
    this.#interface(9);
  }

  /** #interface: the index of the interface with if_tsresol 10^-`exp`, its IDB written now if it is new. */
  #interface(exp: number): number {
    const known = this.#ifaceOf.get(exp);
    if (known !== undefined) return known;
    const { linkType, snapLen, interfaceName } = this.#idb;
    this.#block(
      Block.IDB,
      8,
      (b, at) => {
        b.writeUInt16LE(linkType, at);
        b.writeUInt16LE(0, at + 2);
        b.writeUInt32LE(snapLen, at + 4);
      },
      [[OPT_IF_TSRESOL, Buffer.from([exp])], ...(interfaceName ? [[2, Buffer.from(interfaceName)] as [number, Buffer]] : [])],
    );
    this.#ifaceOf.set(exp, this.#ifaceOf.size);
    return this.#ifaceOf.size - 1;
  }

  /** #timestamp: the interface and the 64-bit count of its units for an instant (the finest exact one; else whole seconds, clamped). */
  #timestamp(sec: number, nsec: number): { iface: number; units: bigint } {
    for (const exp of TS_RESOLUTIONS) {
      const units = tsUnits(sec, nsec, exp);
      if (units !== undefined) return { iface: this.#interface(exp), units };
    }
    const whole = BigInt(Math.trunc(sec));
    const units = whole < 0n ? (whole < -(TWO_64 >> 1n) ? TWO_64 >> 1n : whole + TWO_64) : whole >= TWO_64 ? TWO_64 - 1n : whole;
    return { iface: this.#interface(0), units };
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
    const { iface, units } = this.#timestamp(p.tsSec, p.tsNsec);
    this.#block(
      Block.EPB,
      20 + ((n + 3) & ~3),
      (b, at) => {
        b.writeUInt32LE(iface, at);
        b.writeUInt32LE(Number(units >> 32n), at + 4);
        b.writeUInt32LE(Number(units & 0xffffffffn), at + 8);
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
