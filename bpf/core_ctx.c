// CO-RE: context fields read through a local flavor of struct xdp_md that clang records as
// relocations (preserve_access_index); libbpf resolves them against the kernel's types,
// bpfbox against the object's own.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct xdp_md___local {
	__u32 data;
	__u32 data_end;
} __attribute__((preserve_access_index));

SEC("xdp")
int xdp_core(struct xdp_md *ctx)
{
	struct xdp_md___local *c = (void *)ctx;

	return c->data_end - c->data > 60 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
