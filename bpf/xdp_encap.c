// An XDP program that grows and shrinks packets: UDP/IPv4 packets get an 802.1Q tag pushed
// in front of their EtherType (bpf_xdp_adjust_head), 4 bytes of metadata (adjust_meta),
// and lose the last 4 bytes of their payload (adjust_tail); anything else is passed as is.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int xdp_encap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	if (data_end - data > 60 && bpf_xdp_adjust_tail(ctx, -4))
		return XDP_ABORTED;
	if (bpf_xdp_adjust_head(ctx, -4))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + 18 > data_end)
		return XDP_ABORTED;
	__builtin_memmove(data, data + 4, 12); /* the MAC addresses move to the new start */
	__u8 *tag = data + 12;
	tag[0] = 0x81; tag[1] = 0x00;          /* ETH_P_8021Q */
	tag[2] = 0x00; tag[3] = 0x2a;          /* VLAN 42 */
	if (bpf_xdp_adjust_meta(ctx, -4))
		return XDP_ABORTED;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
