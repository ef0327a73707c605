// SPDX-License-Identifier: GPL-2.0
// xdp_mtu: bpf_check_mtu from XDP against the test run's device (loopback, MTU 65536): the
// frame as it is, grown by len_diff, an L3 length given in *mtu_len, an unknown device and
// flags (which XDP refuses); each answer and mtu_len kept raw in `results`.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __always_inline void put(__u32 slot, __u64 v)
{
	bpf_map_update_elem(&results, &slot, &v, BPF_ANY);
}

SEC("xdp")
int xdp_mtu(struct xdp_md *ctx)
{
	__u32 mtu = 0, over = 0, l3 = 65536, nodev = 0, flags = 0, exact = 0;
	__u32 len = ctx->data_end - ctx->data;

	put(0, bpf_check_mtu(ctx, 0, &mtu, 0, 0));
	put(1, mtu);
	put(2, bpf_check_mtu(ctx, 0, &over, 65551 - len, 0));
	put(3, bpf_check_mtu(ctx, 0, &exact, 65550 - len, 0));
	put(4, bpf_check_mtu(ctx, 1, &l3, 0, 0) << 32 | l3);
	put(5, bpf_check_mtu(ctx, 4242, &nodev, 0, 0));
	put(6, bpf_check_mtu(ctx, 0, &flags, 0, 1));
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
