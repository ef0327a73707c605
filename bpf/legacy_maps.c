// A legacy `maps` section (struct bpf_map_def), as objects built before BTF maps have it.
// libbpf 1.x no longer loads these; bpfbox still reads them.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_counts = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 64,
};

SEC("socket1")
int legacy_count(struct __sk_buff *skb)
{
	__u32 key = skb->protocol;
	__u64 one = 1, *v = bpf_map_lookup_elem(&legacy_counts, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&legacy_counts, &key, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
