// xdp_stats: the appliance's sample program. It counts packets and bytes per (ethertype, IP
// protocol) in a per-CPU hash, keeps a log2 histogram of frame sizes (ebpf_exporter's exp2
// buckets), remembers when each IPv4 source was last seen (bpf_ktime_get_ns), samples one
// packet in `sample_every` (bpf_get_prandom_u32), and drops the IP protocol `drop_proto`.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct proto_key {
	__u16 ethertype;
	__u8 ipproto;
	__u8 pad;
};

struct counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, struct proto_key);
	__type(value, struct counters);
} proto_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} size_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} last_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sampled SEC(".maps");

const volatile __u32 sample_every = 64;
const volatile __u8 drop_proto = 0;

static __always_inline __u32 log2_bucket(__u64 v)
{
	__u32 b = 0;

#pragma unroll
	for (int i = 1; i < 16; i++)
		if (v >> i)
			b = i;
	return b;
}

SEC("xdp")
int xdp_stats(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct proto_key k = {};
	__u32 src = 0, zero = 0, bucket;
	__u64 len = data_end - data, *h, *s;
	struct counters *c;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	k.ethertype = bpf_ntohs(eth->h_proto);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return XDP_DROP;
		k.ipproto = ip->protocol;
		src = ip->saddr;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return XDP_DROP;
		k.ipproto = ip6->nexthdr;
	}

	/* insert a zero entry first and count into this CPU's slot after: two CPUs meeting a new
	 * key at once both count (inserting a 1 with BPF_NOEXIST would lose one of them) */
	c = bpf_map_lookup_elem(&proto_stats, &k);
	if (!c) {
		struct counters zeroes = {};

		bpf_map_update_elem(&proto_stats, &k, &zeroes, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&proto_stats, &k);
	}
	if (c) {
		c->packets++;
		c->bytes += len;
	}

	bucket = log2_bucket(len);
	h = bpf_map_lookup_elem(&size_hist, &bucket);
	if (h)
		*h += 1;

	if (src) {
		__u64 now = bpf_ktime_get_ns();

		bpf_map_update_elem(&last_seen, &src, &now, BPF_ANY);
	}

	if (sample_every && bpf_get_prandom_u32() % sample_every == 0) {
		s = bpf_map_lookup_elem(&sampled, &zero);
		if (s)
			__sync_fetch_and_add(s, 1);
	}

	if (drop_proto && k.ipproto == drop_proto)
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
