// SPDX-License-Identifier: GPL-2.0
// tc_pull: bpf_skb_pull_data with no length, the whole packet, and one byte more; the
// return value packs skb->len, the direct-access length afterwards and the three codes.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int tc_pull(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	long r0 = bpf_skb_pull_data(skb, 0);
	long r1 = bpf_skb_pull_data(skb, len);
	long r2 = bpf_skb_pull_data(skb, len + 1);
	__u32 direct = (long)skb->data_end - (long)skb->data;

	return (len << 16) | ((direct & 0x3fff) << 2) | (r0 == 0 && r1 == 0) | (r2 == -12) << 1;
}

char _license[] SEC("license") = "GPL";
