// events: a ring buffer record for every IPv4 UDP packet and a perf event sample for every
// IPv4 TCP packet (addresses and ports as on the wire); `last` keeps the latest of each, which
// also puts both record types in the object's BTF (clang emits no BTF for locals' types).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct udp_event {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u32 len;
};

struct tcp_event {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
};

struct last {
	struct udp_event udp;
	struct tcp_event tcp;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} udp_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 64);
} tcp_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct last);
} last SEC(".maps");

SEC("xdp")
int xdp_events(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u16 *ports = data + sizeof(*eth) + sizeof(*ip);
	__u32 zero = 0;

	if ((void *)(ports + 2) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5)
		return XDP_PASS;
	struct last *l = bpf_map_lookup_elem(&last, &zero);
	if (!l)
		return XDP_PASS;
	if (ip->protocol == IPPROTO_UDP) {
		struct udp_event *e = bpf_ringbuf_reserve(&udp_events, sizeof(*e), 0);

		if (!e)
			return XDP_PASS;
		e->saddr = ip->saddr;
		e->daddr = ip->daddr;
		e->sport = bpf_ntohs(ports[0]);
		e->dport = bpf_ntohs(ports[1]);
		e->len = end - data;
		l->udp = *e;
		bpf_ringbuf_submit(e, 0);
	} else if (ip->protocol == IPPROTO_TCP) {
		struct tcp_event t = {
			.saddr = ip->saddr,
			.daddr = ip->daddr,
			.sport = bpf_ntohs(ports[0]),
			.dport = bpf_ntohs(ports[1]),
		};

		l->tcp = t;
		bpf_perf_event_output(ctx, &tcp_events, BPF_F_CURRENT_CPU, &t, sizeof(t));
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
