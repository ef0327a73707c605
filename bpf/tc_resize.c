// SPDX-License-Identifier: GPL-2.0
// tc_resize: changes the packet's size with bpf_skb_change_tail and bpf_skb_change_head as the
// first byte of the destination MAC asks (its low bits: grow or shrink the tail by 4, trim
// to 14 bytes, refuse with flags or below the link header, grow the head by 8 and write a
// new link header there). The return value packs the codes and the lengths seen after.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int tc_resize(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 len = skb->len;
	long r1 = 0, r2 = 0;

	if (data + 1 > data_end)
		return -1;
	switch (*(__u8 *)data & 7) {
	case 0: r1 = bpf_skb_change_tail(skb, len + 4, 0); break;
	case 1: r1 = bpf_skb_change_tail(skb, len - 4, 0); break;
	case 2: r1 = bpf_skb_change_tail(skb, 14, 0); r2 = bpf_skb_change_tail(skb, 13, 0); break;
	case 3: r1 = bpf_skb_change_tail(skb, len, 1); r2 = bpf_skb_change_tail(skb, 20000, 0); break;
	case 4:
	case 5:
	case 6:
	case 7:
		r1 = bpf_skb_change_head(skb, 8, 0);
		r2 = bpf_skb_change_head(skb, 4, 1);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		if (data + 22 > data_end)
			return -2;
		__builtin_memcpy(data, data + 8, 12); /* the MACs into the new link header */
		((__u8 *)data)[12] = 0x88;
		((__u8 *)data)[13] = 0xb5;            /* local experimental EtherType */
		break;
	}
	return ((r1 & 0xff) << 24) | ((r2 & 0xff) << 16) | (skb->len & 0xffff);
}

char LICENSE[] SEC("license") = "GPL";
