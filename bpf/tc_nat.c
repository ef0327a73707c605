// A tc program that rewrites packets: destination NAT for UDP/IPv4 with incremental
// checksum updates (bpf_skb_store_bytes, bpf_l3_csum_replace, bpf_l4_csum_replace), a TTL
// decrement through bpf_csum_diff, and a hash set for the flow.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <stddef.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define IP_DST_OFF (ETH_HLEN + offsetof(struct iphdr, daddr))
#define IP_CSUM_OFF (ETH_HLEN + offsetof(struct iphdr, check))
#define IP_TTL_OFF (ETH_HLEN + offsetof(struct iphdr, ttl))
#define UDP_CSUM_OFF (ETH_HLEN + sizeof(struct iphdr) + offsetof(struct udphdr, check))

SEC("tc")
int tc_nat(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5)
		return TC_ACT_OK;
	if (ip->protocol != IPPROTO_UDP)
		return TC_ACT_SHOT;

	__be32 old_dst = ip->daddr;
	__be32 new_dst = bpf_htonl(0xc0a80064); /* 192.168.0.100 */
	bpf_l4_csum_replace(skb, UDP_CSUM_OFF, old_dst, new_dst, BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | sizeof(new_dst));
	bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_dst, new_dst, sizeof(new_dst));
	bpf_skb_store_bytes(skb, IP_DST_OFF, &new_dst, sizeof(new_dst), 0);

	/* TTL - 1, the checksum fixed through a csum_diff of the 16-bit word holding it */
	__u8 buf[4] = {};
	if (bpf_skb_load_bytes(skb, IP_TTL_OFF, buf, 2) < 0)
		return TC_ACT_SHOT;
	__u32 before = *(__u32 *)buf;
	buf[0] -= 1;
	__u32 after = *(__u32 *)buf;
	__s64 diff = bpf_csum_diff(&before, 4, &after, 4, 0);
	bpf_skb_store_bytes(skb, IP_TTL_OFF, buf, 1, 0);
	bpf_l3_csum_replace(skb, IP_CSUM_OFF, 0, diff, 0);

	bpf_set_hash(skb, new_dst);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
