// bpf_skb_change_proto: IPv4 packets grow room for an IPv6 header (the program would then
// write it); IPv6 packets shrink to IPv4 size. The return value is the helper's.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("tc")
int tc_proto(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IP))
		return bpf_skb_change_proto(skb, bpf_htons(ETH_P_IPV6), 0);
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return bpf_skb_change_proto(skb, bpf_htons(ETH_P_IP), 0);
	return -1;
}

char LICENSE[] SEC("license") = "GPL";
