// xdp-pass: let every frame pass, touching nothing: the live bench's PASS-all program (the
// cost of running a program at all), in the kernel on a veth's peer and in bpfbox live.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
