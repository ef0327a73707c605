// xdp_work: a program with real work per packet (a multiplicative hash over the first 34 bytes,
// eight times over), so that the replay benchmark can show how two workers scale when the
// program, not the pipeline around it, takes the time. Built by bench/replay.ts with clang.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_work(struct xdp_md *ctx)
{
	unsigned char *d = (void *)(long)ctx->data, *e = (void *)(long)ctx->data_end;
	__u32 h = 0;

	if (d + 34 > e)
		return XDP_PASS;
	for (int i = 0; i < 34 * 8; i++)
		h = h * 31 + d[i % 34];
	return (h & 0x10000000) ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
