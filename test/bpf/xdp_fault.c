// A program the kernel's verifier refuses: it uses a map lookup's result without the NULL
// check. bpfbox's verifier refuses it too (replay says so at load), so it never runs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} verdict_by_len SEC(".maps");

SEC("xdp")
int xdp_fault(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	__u32 key = len & 0xf;
	__u32 *v = bpf_map_lookup_elem(&verdict_by_len, &key);

	return *v;
}

char LICENSE[] SEC("license") = "GPL";
