/**
 * XDP (`BPF_PROG_TYPE_XDP`): the context and the packet frame.
 *
 *   struct xdp_md: uapi/xdp.ts.
 *
 *   frame: [xdp_frame 40][headroom to 256][data ... data_end][tailroom: skb_shared_info 320]
 */
import { ETH_HLEN } from '../uapi/ethernet.js';
import { XdpAction, XdpMd } from '../uapi/xdp.js';

/** sizeof(struct xdp_frame): the start of the frame the data may not reach (x86-64). */
export const XDP_FRAME_SIZE = 40;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)): tailroom the kernel reserves (x86-64). */
export const XDP_TAILROOM = 320;
/**
 * The largest meta area xdp_metalen_invalid() allows: what skb_shared_info's u8 meta_len
 * holds, in 4-byte units (the xdp_frame below the headroom limits it further, to 216).
 */
export const XDP_META_MAX = 255;
/** A fragment of a multi-buffer frame is one page. */
export const XDP_FRAG_SIZE = 4096;

/**
 * xdpEffect is what a driver does with a verdict: pass it up, drop it, send it back out, or
 * redirect it. Anything else, like XDP_ABORTED, is dropped with a trace (the kernel's
 * bpf_warn_invalid_xdp_action for unknown values), so it is `aborted`.
 */
export function xdpEffect(v: number): 'pass' | 'drop' | 'tx' | 'redirect' | 'aborted' {
  switch (v) {
    case XdpAction.XDP_PASS:
      return 'pass';
    case XdpAction.XDP_DROP:
      return 'drop';
    case XdpAction.XDP_TX:
      return 'tx';
    case XdpAction.XDP_REDIRECT:
      return 'redirect';
    default:
      return 'aborted';
  }
}

/**
 * XdpFrame is one packet's buffer and pointers. The helpers keep the context struct in the
 * shared memory in step with it.
 */
export interface XdpFrame {
  readonly hardStart: number;
  /** hard start + frame_sz: the tail may grow to this less the tailroom. */
  readonly end: number;
  data: number;
  dataEnd: number;
  dataMeta: number;
  /** Bytes beyond the linear part (a multi-buffer frame); the program cannot reach them directly. */
  frags?: Uint8Array;
  /** The fragments' sizes, one page each at most (sum: frags.length). */
  fragSizes?: number[];
  /** bpf_redirect / bpf_redirect_map target, for XDP_REDIRECT. */
  redirect?: { readonly kind: 'ifindex' | 'map'; readonly target: number; readonly mapId?: number; readonly desc?: number };
}

/** writeXdpMd writes the context struct for `f` at `ctx`. */
export function writeXdpMd(dv: DataView, ctx: number, f: XdpFrame): void {
  dv.setUint32(ctx + XdpMd.data, f.data, true);
  dv.setUint32(ctx + XdpMd.data_end, f.dataEnd, true);
  dv.setUint32(ctx + XdpMd.data_meta, f.dataMeta, true);
}

/**
 * adjustHead is bpf_xdp_adjust_head: move `data` by `delta`; the data may not reach into
 * the xdp_frame, nor leave less than an Ethernet header; the meta area moves with it.
 * Returns 0 or -EINVAL (22).
 */
export function adjustHead(f: XdpFrame, delta: number, move: (from: number, to: number, len: number) => void): number {
  const metaLen = f.data - f.dataMeta;
  const data = f.data + delta;
  if (data - metaLen < f.hardStart + XDP_FRAME_SIZE || data > f.dataEnd - ETH_HLEN) return -22;
  if (metaLen) move(f.dataMeta, f.dataMeta + delta, metaLen);
  f.dataMeta += delta;
  f.data = data;
  return 0;
}

/**
 * adjustTail is bpf_xdp_adjust_tail: grow or shrink the end, keeping the kernel's tailroom and
 * an Ethernet header. On a multi-buffer frame the end is the end of the last fragment: it
 * shrinks the fragments (then the linear part) and grows the last fragment.
 */
export function adjustTail(f: XdpFrame, delta: number, zero: (from: number, len: number) => void): number {
  if (f.frags && f.frags.length > 0) {
    const sizes = f.fragSizes ?? [f.frags.length];
    if (delta > 0) {
      // bpf_xdp_frags_increase_tail: only within the last fragment's page
      if (delta > XDP_FRAG_SIZE - sizes[sizes.length - 1]) return -22;
      const grown = new Uint8Array(f.frags.length + delta);
      grown.set(f.frags);
      f.frags = grown;
      f.fragSizes = [...sizes.slice(0, -1), sizes[sizes.length - 1] + delta];
      return 0;
    }
    // bpf_xdp_frags_shrink_tail: the whole buffer keeps an Ethernet header; emptied fragments go
    if (-delta > f.dataEnd - f.data + f.frags.length - ETH_HLEN) return -22;
    const fromFrags = Math.min(-delta, f.frags.length);
    f.frags = f.frags.subarray(0, f.frags.length - fromFrags);
    let left = fromFrags;
    const kept = [...sizes];
    while (left > 0) {
      const cut = Math.min(left, kept[kept.length - 1]);
      kept[kept.length - 1] -= cut;
      left -= cut;
      if (kept[kept.length - 1] === 0) kept.pop();
    }
    f.fragSizes = kept;
    f.dataEnd -= -delta - fromFrags;
    return 0;
  }
  const end = f.dataEnd + delta;
  if (end > f.end - XDP_TAILROOM || end < f.data + ETH_HLEN) return -22;
  if (delta > 0) zero(f.dataEnd, delta);
  f.dataEnd = end;
  return 0;
}

/** xdpMetalenInvalid is the kernel's xdp_metalen_invalid(): not 4-byte aligned, or over XDP_META_MAX. */
export const xdpMetalenInvalid = (len: number): boolean => (len & 3) !== 0 || len > XDP_META_MAX;

/**
 * adjustMeta is bpf_xdp_adjust_meta: the meta area lies between the xdp_frame and data
 * (else -EINVAL), in 4-byte steps of at most XDP_META_MAX bytes (else -EACCES).
 */
export function adjustMeta(f: XdpFrame, delta: number): number {
  const meta = f.dataMeta + delta;
  const len = f.data - meta;
  if (meta < f.hardStart + XDP_FRAME_SIZE || meta > f.data) return -22;
  if (xdpMetalenInvalid(len)) return -13;
  f.dataMeta = meta;
  return 0;
}
