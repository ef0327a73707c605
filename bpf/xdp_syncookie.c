// SPDX-License-Identifier: GPL-2.0
// xdp_syncookie: bpf_tcp_raw_gen_syncookie_ipv4/6 on a TCP SYN, then
// bpf_tcp_raw_check_syncookie_ipv4/6 on the ACK a client would answer with (seq + 1,
// ack_seq = cookie + 1), on one with a wrong cookie and on the SYN itself. The cookie's value
// depends on a secret each kernel draws at boot; what is kept in `results` (and compared) is
// everything else: the MSS the cookie encodes, whether each check passes, the error codes.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __always_inline void put(__u32 slot, __u64 v)
{
	bpf_map_update_elem(&results, &slot, &v, BPF_ANY);
}

SEC("xdp")
int xdp_syncookie(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *th, ack;
	__u32 thlen;
	__s64 r;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1), iph;

		if ((void *)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_TCP)
			return XDP_PASS;
		th = (void *)(ip + 1);
		if ((void *)(th + 1) > end)
			return XDP_PASS;
		thlen = th->doff * 4;
		if (thlen == 24 && (void *)th + 24 <= end)
			r = bpf_tcp_raw_gen_syncookie_ipv4(ip, th, 24);
		else if (thlen == 20)
			r = bpf_tcp_raw_gen_syncookie_ipv4(ip, th, 20);
		else
			return XDP_PASS;
		put(0, r < 0 ? r : r >> 32);
		put(1, bpf_tcp_raw_gen_syncookie_ipv4(ip, th, 19));
		__builtin_memcpy(&iph, ip, sizeof(iph));
		__builtin_memcpy(&ack, th, sizeof(ack));
		put(2, bpf_tcp_raw_check_syncookie_ipv4(&iph, &ack));
		ack.seq = bpf_htonl(bpf_ntohl(th->seq) + 1);
		ack.ack_seq = bpf_htonl((__u32)r + 1);
		put(3, bpf_tcp_raw_check_syncookie_ipv4(&iph, &ack));
		ack.ack_seq = bpf_htonl((__u32)r + 1 + (1 << 24));
		put(4, bpf_tcp_raw_check_syncookie_ipv4(&iph, &ack));
		iph.saddr ^= 1;
		ack.ack_seq = bpf_htonl((__u32)r + 1);
		put(5, bpf_tcp_raw_check_syncookie_ipv4(&iph, &ack));
		return XDP_DROP;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1), iph6;

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return XDP_PASS;
		th = (void *)(ip6 + 1);
		if ((void *)(th + 1) > end)
			return XDP_PASS;
		thlen = th->doff * 4;
		if (thlen == 24 && (void *)th + 24 <= end)
			r = bpf_tcp_raw_gen_syncookie_ipv6(ip6, th, 24);
		else if (thlen == 20)
			r = bpf_tcp_raw_gen_syncookie_ipv6(ip6, th, 20);
		else
			return XDP_PASS;
		put(0, r < 0 ? r : r >> 32);
		put(1, bpf_tcp_raw_gen_syncookie_ipv6(ip6, th, 16));
		__builtin_memcpy(&iph6, ip6, sizeof(iph6));
		__builtin_memcpy(&ack, th, sizeof(ack));
		put(2, bpf_tcp_raw_check_syncookie_ipv6(&iph6, &ack));
		ack.seq = bpf_htonl(bpf_ntohl(th->seq) + 1);
		ack.ack_seq = bpf_htonl((__u32)r + 1);
		put(3, bpf_tcp_raw_check_syncookie_ipv6(&iph6, &ack));
		ack.ack_seq = bpf_htonl((__u32)r + 1 + (1 << 24));
		put(4, bpf_tcp_raw_check_syncookie_ipv6(&iph6, &ack));
		ack.source ^= 1;
		ack.ack_seq = bpf_htonl((__u32)r + 1);
		put(5, bpf_tcp_raw_check_syncookie_ipv6(&iph6, &ack));
		return XDP_DROP;
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
