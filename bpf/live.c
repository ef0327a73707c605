// live: small programs for the live bridge's tests (test/live/bridge.test.ts), each checked
// against replay of the same capture (replay is the oracle for live):
//   xdp_action    returns the knob `action` for every frame (XDP_PASS by default);
//   xdp_no_dns    drops UDP to or from port 53, passes the rest;
//   xdp_rewrite   swaps the MACs and decrements the IPv4 TTL (checksum fixed by RFC 1624);
//   xdp_to_dev    redirects IPv4 frames through the devmap `ports` (entry 0), passes the rest;
//   xdp_to_dev_prog  the same through `ports_prog`, whose entries carry a program of their own:
//   devmap_mark   (SEC xdp/devmap) puts egress_ifindex in the source MAC's last byte, drops DNS;
//   xdp_vlan      passes frames that carry a VLAN tag in the data (802.1Q or 802.1ad), drops the rest;
//   xdp_cpu       counts frames per CPU in a per-CPU array (the fanout's share of each worker);
//   tc_no_udp     TC_ACT_SHOT for UDP, TC_ACT_OK for the rest;
//   socket_head   keeps the first 64 bytes of each frame (a packet socket's snap length).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u32 action = XDP_PASS;

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} ports_prog SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu SEC(".maps");

SEC("xdp")
int xdp_action(struct xdp_md *ctx)
{
	return action;
}

static __always_inline struct udphdr *udp_of(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return 0;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end)
		return 0;
	return udp;
}

SEC("xdp")
int xdp_no_dns(struct xdp_md *ctx)
{
	struct udphdr *udp = udp_of((void *)(long)ctx->data, (void *)(long)ctx->data_end);

	if (udp && (udp->dest == bpf_htons(53) || udp->source == bpf_htons(53)))
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int xdp_rewrite(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	unsigned char mac[ETH_ALEN];
	__u32 sum;
	__u16 old;

	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ttl <= 1)
		return XDP_PASS;
	// RFC 1624: HC' = ~(~HC + ~m + m'), m the 16-bit word holding the TTL
	old = *(__u16 *)&ip->ttl;
	ip->ttl--;
	sum = (__u16)~ip->check + (__u16)~old + *(__u16 *)&ip->ttl;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = ~sum;
	return XDP_PASS;
}

SEC("xdp")
int xdp_to_dev(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	return bpf_redirect_map(&ports, 0, XDP_DROP);
}

SEC("xdp")
int xdp_to_dev_prog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	return bpf_redirect_map(&ports_prog, 0, XDP_DROP);
}

SEC("xdp/devmap")
int devmap_mark(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct udphdr *udp = udp_of(data, data_end);

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	eth->h_source[5] = ctx->egress_ifindex;
	if (udp && udp->dest == bpf_htons(53))
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int xdp_vlan(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto == bpf_htons(ETH_P_8021Q) || eth->h_proto == bpf_htons(ETH_P_8021AD))
		return XDP_PASS;
	return XDP_DROP;
}

SEC("xdp")
int xdp_cpu(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&per_cpu, &k);

	if (n)
		*n += 1;
	return XDP_PASS;
}

SEC("tc")
int tc_no_udp(struct __sk_buff *skb)
{
	struct udphdr *udp = udp_of((void *)(long)skb->data, (void *)(long)skb->data_end);

	return udp ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("socket")
int socket_head(struct __sk_buff *skb)
{
	return 64;
}

char LICENSE[] SEC("license") = "GPL";
