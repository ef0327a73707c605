// Tail calls through a prog array whose slots are set in the object (libbpf's `values`).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int xdp_drop_all(struct xdp_md *ctx);
int xdp_pass_all(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int (void *));
} jmp_table SEC(".maps") = {
	.values = {
		[0] = (void *)&xdp_drop_all,
		[1] = (void *)&xdp_pass_all,
	},
};

SEC("xdp")
int xdp_drop_all(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int xdp_pass_all(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xdp_dispatch(struct xdp_md *ctx)
{
	__u32 slot = (ctx->data_end - ctx->data) & 1;
	bpf_tail_call(ctx, &jmp_table, slot);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
