// bpf-to-bpf calls: two static functions in .text, one calling the other.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __attribute__((noinline)) int square(int x)
{
	return x * x;
}

static __attribute__((noinline)) int sum_squares(int a, int b)
{
	return square(a) + square(b);
}

SEC("xdp")
int xdp_calls(struct xdp_md *ctx)
{
	int n = ctx->data_end - ctx->data;
	return sum_squares(n & 3, 1) > 4 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
