// xdp-verdicts: returns the low four bits of the IPv4 header checksum, so a capture of varied
// packets meets every XDP action and the values past them (8..15), which the kernel warns of
// (bpf_warn_invalid_xdp_action) and drops. Non-IPv4 frames pass. For the replay's tallies.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int xdp_verdicts(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	return bpf_ntohs(ip->check) & 15;
}

char LICENSE[] SEC("license") = "GPL";
