// Callbacks: bpf_loop sums 1..10 into the context it is given; bpf_for_each_map_elem adds up
// the values of a hash map until it meets a value of 1000.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

struct sum { __u64 total; };

static long add_index(__u32 i, void *ctx)
{
	struct sum *s = ctx;
	s->total += i + 1;
	return 0;
}

static long add_value(void *map, __u32 *key, __u64 *value, void *ctx)
{
	struct sum *s = ctx;
	if (*value == 1000)
		return 1;
	s->total += *value;
	return 0;
}

SEC("xdp")
int xdp_callbacks(struct xdp_md *ctx)
{
	struct sum s = {};
	long n = bpf_loop(10, add_index, &s, 0);
	bpf_for_each_map_elem(&values, add_value, &s, 0);
	return (s.total << 8) | n;
}

char LICENSE[] SEC("license") = "GPL";
