import { Errno } from '../uapi/errno.js';
import type { LoadedProgram } from './loadedProgram.js';
import { BpfErrno } from '../uapi/errno.js';
import { ProgType } from '../uapi/progType.js';
import type { HookRuntime } from './runtime.js';
import { type SkbPacket, pktTypeOf } from './skb.js';
import { PacketType, SkBuff } from '../uapi/skBuff.js';
import { XDP_FRAG_SIZE, XDP_FRAME_SIZE, XDP_TAILROOM, type XdpFrame, writeXdpMd, xdpMetalenInvalid } from './xdp.js';
import { ETH_HLEN } from '../uapi/ethernet.js';
import { XDP_PACKET_HEADROOM, XdpMd } from '../uapi/xdp.js';

/** TestRunInput mirrors BPF_PROG_TEST_RUN's inputs. */
export interface TestRunInput {
  readonly data: Uint8Array;
  readonly ctx?: Uint8Array;
  /** Runs; 0 counts as 1, as in the kernel. */
  readonly repeat?: number;
}

/** TestRunResult: the return value, the packet and context after the run, and the average time. */
export interface TestRunResult {
  readonly retval: number;
  readonly data: Uint8Array;
  readonly ctx: Uint8Array;
  /** Average nanoseconds per run. */
  readonly duration: number;
  /** XDP_REDIRECT / TC_ACT_REDIRECT target, if the program set one. */
  readonly redirect?: unknown;
  /** Copies a tc program sent with bpf_clone_redirect. */
  readonly clones?: SkbPacket['clones'];
  /** The tunnel metadata a tc program attached (bpf_skb_set_tunnel_key). */
  readonly tunnel?: SkbPacket['tunnel'];
}

const L2_SKB_TYPES: readonly number[] = [ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_SCHED_ACT];
const SKB_TYPES: readonly number[] = [ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ...L2_SKB_TYPES];
/**
 * The linear part of a test frame: a page less headroom and tailroom. An XDP packet longer
 * than this continues in fragments the program cannot reach directly (its data_end stops
 * here) but data_out returns whole; an skb longer than its limit is refused.
 */
export const XDP_MAX_LINEAR = 4096 - XDP_PACKET_HEADROOM - XDP_TAILROOM;
/** PAGE_SIZE - (NET_SKB_PAD + NET_IP_ALIGN) - SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64. */
export const SKB_MAX_DATA = 4096 - 64 - XDP_TAILROOM;

/** MAX_SKB_FRAGS: the fragments an XDP test frame may have past its linear part (x86-64 default). */
const MAX_SKB_FRAGS = 17;

/** ifindex of the loopback device test-run attaches packets to. */
const LOOPBACK = 1;

/**
 * testRun runs a loaded program once (or `repeat` times) on a packet, as BPF_PROG_TEST_RUN
 * does (net/bpf/test_run.c): XDP sees the frame at L2 after 256 bytes of headroom; a tc
 * program sees an skb at L2; a socket filter sees the skb after eth_type_trans, at L3, and
 * gets back a data_out whose 14 bytes of link header are zeros. Packets shorter than an
 * Ethernet header are EINVAL; other program types are ENOTSUPP.
 */
export function testRun(rt: HookRuntime, prog: LoadedProgram, input: TestRunInput): TestRunResult {
  if (prog.type === ProgType.BPF_PROG_TYPE_XDP) return runXdp(rt, prog, input);
  if (SKB_TYPES.includes(prog.type)) return runSkb(rt, prog, input);
  throw new BpfErrno(Errno.ENOTSUPP, 'this program type has no test run');
}

function timed(rt: HookRuntime, prog: LoadedProgram, repeat: number, r1: number): { retval: number; duration: number } {
  const p = rt.prepare(prog);
  const n = Math.max(1, repeat);
  let r0 = 0;
  // bpf_timer callbacks due before the run, then those due by its end (hooks/timerQueue.ts)
  if (rt.timers.pending) rt.runTimers();
  const t0 = process.hrtime.bigint();
  if (p.repeat32) r0 = p.repeat32(r1, n);
  else for (let i = 0; i < n; i++) r0 = p.run32(r1);
  const ns = Number(process.hrtime.bigint() - t0);
  if (rt.timers.pending) rt.runTimers();
  prog.runCnt += n;
  prog.runTimeNs += ns;
  return { retval: r0, duration: Math.round(ns / n) };
}

function runXdp(rt: HookRuntime, prog: LoadedProgram, input: TestRunInput): TestRunResult {
  const len = input.data.length;
  const ctxIn = input.ctx ? xdpCtxIn(input.ctx, len) : undefined;
  const meta = ctxIn?.data ?? 0;
  if (len - meta < ETH_HLEN)
    throw new BpfErrno(Errno.EINVAL, `data_in of ${len} bytes (${meta} of them metadata) is shorter than an Ethernet header`);
  const mem = rt.kernel.memory;
  const hardStart = rt.frame.start;
  const data = hardStart + XDP_PACKET_HEADROOM;
  // the meta data comes first in data_in and is allocated from the headroom; ctx_in's data_end
  // may ask for a shorter linear part; the rest goes into page-sized fragments
  const linear = Math.min(ctxIn?.data_end ?? len, XDP_MAX_LINEAR + meta);
  mem.u8.set(input.data.subarray(0, linear), data - meta);
  const frags = input.data.slice(linear);
  if (frags.length > MAX_SKB_FRAGS * XDP_FRAG_SIZE)
    throw new BpfErrno(Errno.ENOMEM, `data_in of ${len} bytes needs more than ${MAX_SKB_FRAGS} fragments`);
  const frame: XdpFrame = {
    hardStart,
    end: hardStart + XDP_FRAG_SIZE,
    data,
    dataEnd: data - meta + linear,
    dataMeta: data - meta,
    frags,
    fragSizes: Array.from({ length: Math.ceil(frags.length / XDP_FRAG_SIZE) }, (_, i) =>
      Math.min(XDP_FRAG_SIZE, frags.length - i * XDP_FRAG_SIZE),
    ),
  };
  const ctx = rt.ctx.start;
  mem.u8.fill(0, ctx, ctx + XdpMd.SIZE);
  mem.view.setUint32(ctx + XdpMd.ingress_ifindex, ctxIn?.ingress_ifindex || LOOPBACK, true);
  writeXdpMd(mem.view, ctx, frame);
  rt.current = { kind: 'xdp', frame, ctx };
  try {
    const { retval, duration } = timed(rt, prog, input.repeat ?? 1, ctx);
    return {
      retval,
      duration,
      redirect: frame.redirect,
      // like the kernel, data_out starts at data_meta: any metadata the program added comes out too
      data: concat(mem.u8.slice(frame.dataMeta, frame.dataEnd), frame.frags ?? new Uint8Array(0)),
      // ctx_out, only when ctx_in was given: xdp_convert_buff_to_md's data and data_end
      // (from data_meta), the rest as it came in
      ctx: input.ctx ? xdpCtxOut(input.ctx, frame) : new Uint8Array(0),
    };
  } finally {
    rt.current = { kind: 'none' };
  }
}

function runSkb(rt: HookRuntime, prog: LoadedProgram, input: TestRunInput): TestRunResult {
  const len = input.data.length;
  if (len < ETH_HLEN) throw new BpfErrno(Errno.EINVAL, `data_in of ${len} bytes is shorter than an Ethernet header`);
  if (len > SKB_MAX_DATA)
    throw new BpfErrno(Errno.EINVAL, `data_in of ${len} bytes is larger than an skb test run takes (${SKB_MAX_DATA})`);
  const mem = rt.kernel.memory;
  const l2 = L2_SKB_TYPES.includes(prog.type);
  const mac = rt.frame.start + XDP_PACKET_HEADROOM;
  mem.u8.set(input.data, mac);
  const pkt: SkbPacket = {
    head: rt.frame.start,
    end: rt.frame.start + rt.frame.size,
    mac,
    network: mac + ETH_HLEN,
    data: l2 ? mac : mac + ETH_HLEN,
    dataEnd: mac + len,
    protocol: input.data[12] | (input.data[13] << 8),
    vlanTci: 0,
    vlanProto: 0,
    vlanPresent: false,
    hash: 0,
    // the socket bpf_prog_test_run_skb makes for the skb, in the caller's (root) cgroup
    sock: true,
  };
  const ctx = rt.ctx.start;
  const dv = mem.view;
  mem.u8.fill(0, ctx, ctx + SkBuff.SIZE);
  const given = input.ctx ? skbCtxIn(input.ctx, pkt.dataEnd - pkt.data) : undefined;
  if (given) for (const [off, size] of SKB_CTX_FIELDS) mem.u8.set(given.subarray(off, off + size), ctx + off);
  dv.setUint32(ctx + SkBuff.len, pkt.dataEnd - pkt.data, true);
  dv.setUint32(ctx + SkBuff.pkt_type, pktTypeOf(input.data) ?? PacketType.PACKET_HOST, true);
  dv.setUint32(ctx + SkBuff.protocol, pkt.protocol, true);
  dv.setUint32(ctx + SkBuff.ifindex, LOOPBACK, true);
  dv.setUint32(ctx + SkBuff.data, pkt.data, true);
  dv.setUint32(ctx + SkBuff.data_end, pkt.dataEnd, true);
  dv.setUint32(ctx + SkBuff.data_meta, pkt.data, true);
  if (!given || dv.getUint32(ctx + SkBuff.wire_len, true) === 0) dv.setUint32(ctx + SkBuff.wire_len, pkt.dataEnd - pkt.data, true);
  rt.current = { kind: 'skb', pkt, ctx, l2 };
  try {
    const { retval, duration } = timed(rt, prog, input.repeat ?? 1, ctx);
    // data_out runs from the link header; a socket filter's was pulled off and comes back as zeros
    const out = mem.u8.slice(pkt.mac, pkt.dataEnd);
    if (!l2) out.fill(0, 0, ETH_HLEN);
    // ctx_out, only when ctx_in was given: the fields ctx_in may set, as the run left them
    const ctxOut = new Uint8Array(given ? SkBuff.SIZE : 0);
    if (given) {
      for (const [off, size] of SKB_CTX_FIELDS) ctxOut.set(mem.u8.subarray(ctx + off, ctx + off + size), off);
      new DataView(ctxOut.buffer).setUint32(SkBuff.ifindex, LOOPBACK, true);
    }
    return { retval, duration, redirect: pkt.redirect, clones: pkt.clones, tunnel: pkt.tunnel, data: out, ctx: ctxOut };
  } finally {
    rt.current = { kind: 'none' };
  }
}

/**
 * SKB_CTX_FIELDS: the fields of struct __sk_buff test-run takes from ctx_in and gives back in
 * ctx_out (net/bpf/test_run.c, convert___skb_to_skb): mark, priority, ingress_ifindex,
 * ifindex, cb[5], tstamp, wire_len, gso_segs, gso_size, hwtstamp; [offset, size].
 */
const SKB_CTX_FIELDS: readonly [number, number][] = [
  [SkBuff.mark, 4],
  [SkBuff.priority, 4],
  [SkBuff.ingress_ifindex, 4],
  [SkBuff.ifindex, 4],
  [SkBuff.cb, 20],
  [SkBuff.tstamp, 8],
  [SkBuff.wire_len, 4],
  [SkBuff.gso_segs, 4],
  [SkBuff.gso_size, 4],
  [SkBuff.hwtstamp, 8],
];

/** skbCtxIn checks ctx_in as the kernel does: every other byte 0 (EINVAL), a known ifindex (ENODEV), a sane wire_len and gso_segs. */
function skbCtxIn(ctxIn: Uint8Array, len: number): Uint8Array {
  if (ctxIn.length > SkBuff.SIZE) throw new BpfErrno(Errno.EINVAL, 'ctx_in larger than struct __sk_buff');
  const c = new Uint8Array(SkBuff.SIZE);
  c.set(ctxIn);
  const allowed = new Uint8Array(SkBuff.SIZE);
  for (const [off, size] of SKB_CTX_FIELDS) allowed.fill(1, off, off + size);
  const bad = c.findIndex((b, i) => b !== 0 && !allowed[i]);
  if (bad >= 0) throw new BpfErrno(Errno.EINVAL, `ctx_in: byte ${bad} of struct __sk_buff may not be set`);
  const dv = new DataView(c.buffer);
  if (dv.getUint32(SkBuff.ifindex, true) > LOOPBACK)
    throw new BpfErrno(Errno.ENODEV, `ctx_in: no device with ifindex ${dv.getUint32(SkBuff.ifindex, true)}`);
  const wire = dv.getUint32(SkBuff.wire_len, true);
  if (wire !== 0 && (wire < len || wire > 65536)) throw new BpfErrno(Errno.EINVAL, `ctx_in: wire_len ${wire}`);
  if (dv.getUint32(SkBuff.gso_segs, true) > 65535) throw new BpfErrno(Errno.EINVAL, 'ctx_in: gso_segs');
  return c;
}

type XdpMdIn = Record<'data' | 'data_end' | 'ingress_ifindex', number>;

/**
 * xdpCtxIn checks ctx_in as bpf_prog_test_run_xdp (6.18) does: data_meta 0, data_end within
 * data_in, data within data_end and a valid meta length below the xdp_frame, egress_ifindex
 * 0, rx_queue_index only with an ingress device (here loopback, one queue), a known device.
 */
function xdpCtxIn(ctxIn: Uint8Array, len: number): XdpMdIn {
  if (ctxIn.length > XdpMd.SIZE) throw new BpfErrno(Errno.EINVAL, 'ctx_in larger than struct xdp_md');
  const c = new Uint8Array(XdpMd.SIZE);
  c.set(ctxIn);
  const dv = new DataView(c.buffer);
  const f = (off: number) => dv.getUint32(off, true);
  const bad = (why: string) => new BpfErrno(Errno.EINVAL, `ctx_in: ${why}`);
  if (f(XdpMd.data_meta) !== 0) throw bad('data_meta must be 0 (nothing precedes the metadata)');
  if (f(XdpMd.data_end) > len) throw bad(`data_end ${f(XdpMd.data_end)} past data_in's ${len} bytes`);
  if (f(XdpMd.data) > f(XdpMd.data_end)) throw bad(`data ${f(XdpMd.data)} past data_end ${f(XdpMd.data_end)}`);
  if (xdpMetalenInvalid(f(XdpMd.data)) || f(XdpMd.data) > XDP_PACKET_HEADROOM - XDP_FRAME_SIZE)
    throw bad(`${f(XdpMd.data)} bytes of metadata`);
  if (f(XdpMd.egress_ifindex) !== 0) throw bad('egress_ifindex must be 0');
  const ifindex = f(XdpMd.ingress_ifindex);
  if (!ifindex && f(XdpMd.rx_queue_index)) throw bad('rx_queue_index without ingress_ifindex');
  if (ifindex > LOOPBACK) throw new BpfErrno(Errno.ENODEV, `ctx_in: no device with ifindex ${ifindex}`);
  if (ifindex && f(XdpMd.rx_queue_index) !== 0) throw bad("rx_queue_index past the device's queues");
  return { data: f(XdpMd.data), data_end: f(XdpMd.data_end), ingress_ifindex: ifindex };
}

/** xdpCtxOut: struct xdp_md as the kernel gives it back: data and data_end from data_meta, the rest as given. */
function xdpCtxOut(ctxIn: Uint8Array, f: XdpFrame): Uint8Array {
  const out = new Uint8Array(XdpMd.SIZE);
  out.set(ctxIn);
  const dv = new DataView(out.buffer);
  dv.setUint32(XdpMd.data, f.data - f.dataMeta, true);
  dv.setUint32(XdpMd.data_end, f.dataEnd - f.dataMeta, true);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
