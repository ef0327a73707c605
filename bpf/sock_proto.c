// The bpf(2) man page's socket example: count packets per IP protocol with LD_ABS and an
// atomic add, and keep every packet (return the whole length).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <stddef.h>
#include <bpf/bpf_helpers.h>

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} proto_count SEC(".maps");

SEC("socket")
int count_proto(struct __sk_buff *skb)
{
	__u32 proto = load_byte(skb, ETH_HLEN + offsetof(struct iphdr, protocol));
	__u64 *value = bpf_map_lookup_elem(&proto_count, &proto);

	if (value)
		__sync_fetch_and_add(value, 1);
	return skb->len;
}

char LICENSE[] SEC("license") = "GPL";
