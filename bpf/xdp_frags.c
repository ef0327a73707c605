// SPDX-License-Identifier: GPL-2.0
// xdp_frags: reads and writes the whole buffer, fragments included, through the XDP byte
// helpers: the last 4 bytes are copied to the front, a marker goes 8 bytes before the end,
// and reads past the end or beyond 0xffff must fail. The return value packs the buffer length
// (bpf_xdp_get_buff_len) and which calls gave the expected codes.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_frags(struct xdp_md *ctx)
{
	__u32 len = bpf_xdp_get_buff_len(ctx);
	__u32 v = 0, marker = 0xa5c3e10f;
	long r_load, r_front, r_store, r_past, r_far;

	if (len < 8 || len > 0xffff)
		return 1;
	r_load = bpf_xdp_load_bytes(ctx, len - 4, &v, sizeof(v));
	r_front = bpf_xdp_store_bytes(ctx, 0, &v, sizeof(v));
	r_store = bpf_xdp_store_bytes(ctx, len - 8, &marker, sizeof(marker));
	r_past = bpf_xdp_load_bytes(ctx, len - 3, &v, sizeof(v));
	r_far = bpf_xdp_load_bytes(ctx, 0x10000, &v, sizeof(v));
	return (len << 8) | (r_load == 0) | (r_front == 0) << 1 | (r_store == 0) << 2 | (r_past == -22) << 3 | (r_far == -14) << 4;
}

char _license[] SEC("license") = "GPL";
