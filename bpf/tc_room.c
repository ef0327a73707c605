// SPDX-License-Identifier: GPL-2.0
// tc_room: bpf_skb_adjust_room as the low nibble of the packet's first byte asks: growing and
// shrinking at the network and the MAC layer, encapsulating (and a second time), decapsulating,
// and the flag and size combinations the kernel refuses. The return value packs both calls'
// codes, whether skb->protocol is IPv6 afterwards, and skb->len.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define NET BPF_ADJ_ROOM_NET
#define MAC BPF_ADJ_ROOM_MAC
/* BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (6.3); older UAPI headers lack it */
#define ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)

SEC("tc")
int tc_room(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	long r1 = 0, r2 = 0;

	if (data + 1 > data_end)
		return -1;
	switch (*(__u8 *)data & 0xf) {
	case 0: r1 = bpf_skb_adjust_room(skb, 8, NET, 0); break;
	case 1:
		r1 = bpf_skb_adjust_room(skb, 20, MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4);
		r2 = bpf_skb_adjust_room(skb, 20, MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4);
		break;
	case 2: r1 = bpf_skb_adjust_room(skb, -8, NET, 0); break;
	case 3: r1 = bpf_skb_adjust_room(skb, -20, MAC, ADJ_ROOM_DECAP_L3_IPV4); break;
	case 4:
		r1 = bpf_skb_adjust_room(skb, 8, NET, ADJ_ROOM_DECAP_L3_IPV4);
		r2 = bpf_skb_adjust_room(skb, 0x1000, NET, 0);
		break;
	case 5:
		r1 = bpf_skb_adjust_room(skb, 8, 2, 0);
		r2 = bpf_skb_adjust_room(skb, 8, NET, 1 << 9);
		break;
	case 6:
		r1 = bpf_skb_adjust_room(skb, 40, MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6);
		r2 = bpf_skb_adjust_room(skb, 40, MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L2_ETH);
		break;
	case 7: r1 = bpf_skb_adjust_room(skb, 40, MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV6); break;
	case 8: r1 = bpf_skb_adjust_room(skb, -(skb->len - 14), NET, 0); r2 = bpf_skb_adjust_room(skb, -30, NET, 0); break;
	case 9:
		r1 = bpf_skb_adjust_room(skb, 48, MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_GRE |
					 BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_ENCAP_L2(14));
		break;
	case 10: r1 = bpf_skb_adjust_room(skb, -8, NET, BPF_F_ADJ_ROOM_ENCAP_L4_UDP); break;
	case 11: r1 = bpf_skb_adjust_room(skb, 8, MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L2(14)); break;
	default: r1 = bpf_skb_adjust_room(skb, 8, NET, 0); break;
	}
	return ((r1 & 0xff) << 24) | ((r2 & 0xff) << 16) | ((skb->protocol == bpf_htons(ETH_P_IPV6)) << 15) | (skb->len & 0x7fff);
}

char LICENSE[] SEC("license") = "GPL";
