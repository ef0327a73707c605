// SPDX-License-Identifier: GPL-2.0
// xdp_adjust: moves the frame's edges as the packet asks, to test the kernel's limits.
// Byte 0 says which edge (0 tail, 1 meta, 2 head), byte 1 the sign (1: negative), bytes 2-3
// the amount (big-endian). The return value is 1000 + the errno when the helper refuses,
// otherwise the packet length plus the metadata length times 65536.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_adjust(struct xdp_md *ctx)
{
	unsigned char *d = (void *)(long)ctx->data;
	long r;

	if ((void *)(d + 4) > (void *)(long)ctx->data_end)
		return 999;
	int delta = (d[2] << 8) | d[3];
	if (d[1] == 1)
		delta = -delta;
	switch (d[0]) {
	case 0: r = bpf_xdp_adjust_tail(ctx, delta); break;
	case 1: r = bpf_xdp_adjust_meta(ctx, delta); break;
	case 2: r = bpf_xdp_adjust_head(ctx, delta); break;
	default: return 998;
	}
	if (r)
		return 1000 - r;
	return (ctx->data_end - ctx->data) + ((ctx->data - ctx->data_meta) << 16);
}

char _license[] SEC("license") = "GPL";
