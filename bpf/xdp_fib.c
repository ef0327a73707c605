// SPDX-License-Identifier: GPL-2.0
// xdp_fib: asks bpf_fib_lookup where an IPv4 or IPv6 packet would go and writes the
// answer into the packet: the 64-byte struct bpf_fib_lookup after the lookup replaces the
// first 64 bytes of the payload after the IP header, and the return value is the lookup's
// BPF_FIB_LKUP_RET_* code (or 100 + the negative errno's absolute value, 200 for a packet
// that is not IP or too short). The flags come from the IP header's first payload byte (and,
// with BPF_FIB_LOOKUP_TBID, the table id from the second) so a packet set can exercise them.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10

SEC("xdp")
int xdp_fib(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct bpf_fib_lookup p = {};
	unsigned char *payload;
	long rc;

	if ((void *)(eth + 1) > data_end)
		return 200;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			return 200;
		payload = (void *)(ip + 1);
		p.family = AF_INET;
		p.tos = ip->tos;
		p.l4_protocol = ip->protocol;
		p.tot_len = bpf_ntohs(ip->tot_len);
		p.ipv4_src = ip->saddr;
		p.ipv4_dst = ip->daddr;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end)
			return 200;
		payload = (void *)(ip6 + 1);
		p.family = AF_INET6;
		p.l4_protocol = ip6->nexthdr;
		p.tot_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		__builtin_memcpy(p.ipv6_src, &ip6->saddr, 16);
		__builtin_memcpy(p.ipv6_dst, &ip6->daddr, 16);
	} else {
		return 200;
	}
	if ((void *)(payload + sizeof(p)) > data_end)
		return 200;
	p.ifindex = ctx->ingress_ifindex;
	if (payload[0] & BPF_FIB_LOOKUP_TBID)
		p.tbid = payload[1];
	rc = bpf_fib_lookup(ctx, &p, sizeof(p), payload[0] & 0x1f);
	__builtin_memcpy(payload, &p, sizeof(p));
	return rc < 0 ? 100 - rc : rc;
}

char _license[] SEC("license") = "GPL";
