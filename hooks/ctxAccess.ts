import { ProgType } from '../uapi/progType.js';
import { SkBuff } from '../uapi/skBuff.js';
import { XdpMd } from '../uapi/xdp.js';

/**
 * ctxAccessOk: whether a program type may read (or write) `size` bytes at `off` of its
 * context, as the kernel's is_valid_access callbacks decide (net/core/filter.c, 6.18):
 * xdp_is_valid_access, sk_filter_is_valid_access and tc_cls_act_is_valid_access, the last two
 * over bpf_skb_is_valid_access. Types without a table here answer undefined (not checked).
 */
export function ctxAccessOk(progType: number, off: number, size: number, write: boolean): boolean | undefined {
  switch (progType) {
    case ProgType.BPF_PROG_TYPE_XDP:
      return xdpOk(off, size, write);
    case ProgType.BPF_PROG_TYPE_SOCKET_FILTER:
      return socketOk(off, size, write);
    case ProgType.BPF_PROG_TYPE_SCHED_CLS:
    case ProgType.BPF_PROG_TYPE_SCHED_ACT:
      return tcOk(off, size, write);
    default:
      return undefined;
  }
}

const inField = (off: number, field: number, size = 4) => off >= field && off < field + size;

/** xdp_is_valid_access: read-only 4-byte fields; egress_ifindex only for devmap programs. */
function xdpOk(off: number, size: number, write: boolean): boolean {
  if (inField(off, XdpMd.egress_ifindex)) return false;
  if (write) return false;
  return off >= 0 && off < XdpMd.SIZE && off % size === 0 && size === 4;
}

/** sk_filter_is_valid_access: no packet pointers, classid, socket addresses, timestamps or wire_len; writes only to cb[]. */
function socketOk(off: number, size: number, write: boolean): boolean {
  if (inField(off, SkBuff.tc_classid) || inField(off, SkBuff.data) || inField(off, SkBuff.data_meta) || inField(off, SkBuff.data_end)) return false;
  if (off >= SkBuff.family && off < SkBuff.local_port + 4) return false;
  if (inField(off, SkBuff.tstamp, 8) || inField(off, SkBuff.wire_len) || inField(off, SkBuff.hwtstamp, 8)) return false;
  if (write && !(off >= SkBuff.cb && off < SkBuff.cb + 20)) return false;
  return skbOk(off, size, write);
}

/** tc_cls_act_is_valid_access: writes to mark, tc_index, priority, tc_classid, cb[], tstamp, queue_mapping; no socket addresses. */
function tcOk(off: number, size: number, write: boolean): boolean {
  if (write) {
    const writable = inField(off, SkBuff.mark) || inField(off, SkBuff.tc_index) || inField(off, SkBuff.priority) || inField(off, SkBuff.tc_classid)
      || (off >= SkBuff.cb && off < SkBuff.cb + 20) || inField(off, SkBuff.tstamp, 8) || inField(off, SkBuff.queue_mapping);
    if (!writable) return false;
  }
  if (off >= SkBuff.family && off < SkBuff.local_port + 4) return false;
  // tstamp_type: a one-byte read (tc only)
  if (off === SkBuff.tstamp_type) return size === 1;
  return skbOk(off, size, write);
}

/** bpf_skb_is_valid_access: bounds, alignment, whole-word pointers and timestamps, narrow reads elsewhere. */
function skbOk(off: number, size: number, write: boolean): boolean {
  if (off < 0 || off >= SkBuff.SIZE || off % size !== 0) return false;
  if (off >= SkBuff.cb && off < SkBuff.cb + 20) return off + size <= SkBuff.cb + 20;
  if ((off >= SkBuff.remote_ip6 && off < SkBuff.local_ip6 + 16) || inField(off, SkBuff.remote_ip4) || inField(off, SkBuff.local_ip4)
    || inField(off, SkBuff.data) || inField(off, SkBuff.data_meta) || inField(off, SkBuff.data_end)) return size === 4;
  if (inField(off, SkBuff.flow_keys, 8)) return false;
  if (inField(off, SkBuff.hwtstamp, 8)) return !write && size === 8;
  if (inField(off, SkBuff.tstamp, 8)) return size === 8;
  if (inField(off, SkBuff.sk, 8)) return !write && size === 8;
  if (inField(off, SkBuff.tstamp_type, 1)) return false;
  if (off > SkBuff.tstamp_type && off < SkBuff.hwtstamp) return false; // padding
  // everything else: whole-word writes, narrow (1, 2, 4-byte) reads
  return write ? size === 4 : size <= 4;
}
