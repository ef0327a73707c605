// SPDX-License-Identifier: GPL-2.0
// xdp_headroom: grows the head by 16 bytes and fills them with 0xaa only when byte 14 (the
// first byte after the Ethernet header) is non-zero; otherwise the new head is whatever the
// headroom held. The kernel's test run hands out zeroed headroom, so an unfilled head is 16
// zero bytes: replay must give the same, whatever an earlier packet left in that memory.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_headroom(struct xdp_md *ctx)
{
	unsigned char *d = (void *)(long)ctx->data;
	unsigned char mark;

	if ((void *)(d + 15) > (void *)(long)ctx->data_end)
		return XDP_DROP;
	mark = d[14];
	if (bpf_xdp_adjust_head(ctx, -16))
		return XDP_ABORTED;
	d = (void *)(long)ctx->data;
	if ((void *)(d + 16) > (void *)(long)ctx->data_end)
		return XDP_DROP;
	if (mark)
		__builtin_memset(d, 0xaa, 16);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
