// SPDX-License-Identifier: GPL-2.0
// tc_meta: the skb metadata helpers, each answer kept raw in a slot of `results` (the test
// compares maps as well as return value and output bytes): bpf_check_mtu against the test
// run's device (loopback, MTU 65536), bpf_csum_level, bpf_skb_change_type,
// bpf_skb_set_tstamp, bpf_skb_ecn_set_ce (the output packet shows it), bpf_get_current_task
// (nonzero) and bpf_probe_read_kernel(_str) from addresses no kernel may read (-ERANGE, buffer zeroed).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 24);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __always_inline void put(__u32 slot, __u64 v)
{
	bpf_map_update_elem(&results, &slot, &v, BPF_ANY);
}

SEC("tc")
int tc_meta(struct __sk_buff *skb)
{
	__u32 mtu = 0, over = 0, l3 = 1400, big = 70000, nodev = 0, segs = 0;
	char buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	char str[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	__u64 sum = 0;

	put(0, bpf_check_mtu(skb, 0, &mtu, 0, 0));
	put(1, mtu);
	put(2, bpf_check_mtu(skb, 1, &over, 65536, 0));
	put(3, bpf_check_mtu(skb, 0, &l3, 0, 0));
	put(4, bpf_check_mtu(skb, 0, &big, 0, 0));
	put(5, bpf_check_mtu(skb, 4242, &nodev, 0, 0));
	put(6, bpf_check_mtu(skb, 0, &segs, 0, 1));
	put(7, bpf_check_mtu(skb, 0, &segs, -4, 1));
	put(8, bpf_csum_level(skb, 0));
	bpf_csum_level(skb, 1);
	bpf_csum_level(skb, 1);
	put(9, bpf_csum_level(skb, 0));
	bpf_csum_level(skb, 2);
	bpf_csum_level(skb, 2);
	put(10, bpf_csum_level(skb, 0));
	put(11, bpf_csum_level(skb, 9));
	put(12, bpf_skb_change_type(skb, 2));
	put(13, skb->pkt_type);
	put(14, bpf_skb_change_type(skb, 7));
	put(15, bpf_skb_set_tstamp(skb, 0, 1));
	put(16, bpf_skb_set_tstamp(skb, 12345, 2));
	put(17, skb->tstamp);
	put(18, bpf_skb_set_tstamp(skb, 1, 9));
	put(19, bpf_get_current_task() != 0);
	put(20, bpf_probe_read_kernel(buf, sizeof(buf), (void *)0));
	put(21, bpf_probe_read_kernel_str(str, sizeof(str), (void *)0x8000000000000000ULL));
	for (int i = 0; i < 8; i++)
		sum += buf[i] + str[i];
	put(22, sum);
	return bpf_skb_ecn_set_ce(skb);
}

char _license[] SEC("license") = "GPL";
