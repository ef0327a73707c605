/**
 * XdpMd: the offsets of XDP's context (include/uapi/linux/bpf.h).
 *
 *   struct xdp_md, 24 bytes, with real 32-bit addresses in the first three fields:
 *   0 data | 4 data_end | 8 data_meta | 12 ingress_ifindex | 16 rx_queue_index | 20 egress_ifindex
 */
export const XdpMd = { data: 0, data_end: 4, data_meta: 8, ingress_ifindex: 12, rx_queue_index: 16, egress_ifindex: 20, SIZE: 24 } as const;

/** XdpAction: XDP actions (enum xdp_action). */
export const XdpAction = { XDP_ABORTED: 0, XDP_DROP: 1, XDP_PASS: 2, XDP_TX: 3, XDP_REDIRECT: 4 } as const;

/** XDP_PACKET_HEADROOM: room the kernel keeps before the packet. */
export const XDP_PACKET_HEADROOM = 256;

/** xdpActionName names a verdict (`XDP_PASS`), or `unknown (N)` for others, which the kernel counts as invalid. */
export function xdpActionName(v: number): string {
  return XDP_NAMES[v] ?? `unknown (${v})`;
}
const XDP_NAMES: readonly string[] = Object.keys(XdpAction);
