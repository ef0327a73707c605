// trace_print: prints two lines with bpf_printk (bpf_trace_printk) on every run, the frame's
// length and a fixed word; for `prog run … repeat N`, which shows each distinct line once.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int trace_len(struct xdp_md *ctx)
{
	bpf_printk("len %d", ctx->data_end - ctx->data);
	bpf_printk("done");
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
