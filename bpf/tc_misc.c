// SPDX-License-Identifier: GPL-2.0
// tc_misc: the small tc helpers, each answer kept raw in `results`: bpf_csum_update (no
// CHECKSUM_COMPLETE skb: -ENOTSUPP), bpf_set_hash_invalid (skb->hash reads 0 after),
// bpf_get_route_realm, bpf_get_cgroup_classid, bpf_skb_cgroup_classid, bpf_skb_cgroup_id,
// bpf_skb_ancestor_cgroup_id, bpf_probe_read_user(_str) of NULL (-EFAULT, buffer zeroed),
// bpf_get_current_uid_gid; and, where bpfbox and the kernel run in different tasks and at
// different times, only the shape: comm NUL-terminated and nonempty, pid and jiffies nonzero.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 20);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __always_inline void put(__u32 slot, __u64 v)
{
	bpf_map_update_elem(&results, &slot, &v, BPF_ANY);
}

SEC("tc")
int tc_misc(struct __sk_buff *skb)
{
	char buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, str[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, comm[16];
	__u64 sum = 0;

	put(0, bpf_csum_update(skb, 5));
	bpf_get_hash_recalc(skb);
	put(1, skb->hash != 0);
	bpf_set_hash_invalid(skb);
	put(2, skb->hash);
	put(3, bpf_get_route_realm(skb));
	put(4, bpf_get_cgroup_classid(skb));
	put(5, bpf_skb_cgroup_classid(skb));
	put(6, bpf_skb_cgroup_id(skb));
	put(7, bpf_skb_ancestor_cgroup_id(skb, 0));
	put(8, bpf_probe_read_user(buf, sizeof(buf), (void *)0));
	put(9, bpf_probe_read_user_str(str, sizeof(str), (void *)0));
	for (int i = 0; i < 8; i++)
		sum += buf[i] + str[i];
	put(10, sum);
	put(11, bpf_get_current_uid_gid());
	put(12, bpf_get_current_comm(comm, sizeof(comm)));
	put(13, comm[0] != 0 && comm[15] == 0);
	put(14, bpf_get_current_pid_tgid() != 0);
	put(15, bpf_jiffies64() != 0);
	put(16, bpf_ktime_get_tai_ns() > bpf_ktime_get_ns());
	return 0;
}

char _license[] SEC("license") = "GPL";
