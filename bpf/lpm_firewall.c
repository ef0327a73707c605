// An LPM-trie firewall: drop IPv4 packets whose source address falls in a blocked prefix.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} blocked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u32 verdict = XDP_PASS;

	if ((void *)(ip + 1) <= data_end && eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct lpm_key key = { .prefixlen = 32, .addr = ip->saddr };
		if (bpf_map_lookup_elem(&blocked, &key))
			verdict = XDP_DROP;
	}
	__u32 idx = verdict == XDP_DROP ? 0 : 1;
	__u64 *n = bpf_map_lookup_elem(&verdicts, &idx);
	if (n)
		*n += 1;
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
