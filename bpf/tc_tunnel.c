// SPDX-License-Identifier: GPL-2.0
// tc_tunnel: the tunnel metadata helpers and tc's redirect variants. The packet's first
// byte picks the case; every helper's answer and the key and options read back are kept
// raw in `results` (the test compares maps after each packet): no metadata yet (-EINVAL,
// -ENOENT, buffers zeroed), IPv4 and IPv6 keys set and read back (addresses swap: read as
// received), the older key layouts, flags, options, and bpf_redirect_peer / _neigh's answers.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef BPF_F_NO_TUNNEL_KEY
#define BPF_F_NO_TUNNEL_KEY (1ULL << 4) /* 6.3; the header here is older */
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 40);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __always_inline void put(__u32 slot, __u64 v)
{
	bpf_map_update_elem(&results, &slot, &v, BPF_ANY);
}

static __always_inline void put_key(__u32 slot, struct bpf_tunnel_key *k)
{
	__u64 *w = (__u64 *)k;
	put(slot, w[0]);
	put(slot + 1, w[1]);
	put(slot + 2, w[2]);
	put(slot + 3, w[3]);
	put(slot + 4, w[4]);
	put(slot + 5, ((__u32 *)k)[10]);
}

SEC("tc")
int tc_tunnel(struct __sk_buff *skb)
{
	struct bpf_tunnel_key key = {}, got;
	struct bpf_redir_neigh nh = { .nh_family = 2, .ipv4_nh = 0x0100000a };
	__u8 opt[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, opt_got[16];
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u8 pick = 0;

	if (data + 1 <= end)
		pick = *(__u8 *)data;
	__builtin_memset(&got, 0x55, sizeof(got));
	__builtin_memset(opt_got, 0x55, sizeof(opt_got));
	put(0, bpf_skb_get_tunnel_key(skb, &got, sizeof(got), 0));
	put(1, ((__u64 *)&got)[0]);
	put(2, bpf_skb_get_tunnel_opt(skb, opt_got, sizeof(opt_got)));
	put(3, ((__u64 *)opt_got)[0]);
	put(4, bpf_skb_set_tunnel_opt(skb, opt, 8));

	key.tunnel_id = 0x12345678;
	key.tunnel_tos = 0x2e;
	key.tunnel_ttl = 33;
	switch (pick & 3) {
	case 0: /* IPv4 */
		key.remote_ipv4 = 0x0a000102;
		key.local_ipv4 = 0xc0a80001;
		put(5, bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_ZERO_CSUM_TX | BPF_F_SEQ_NUMBER));
		break;
	case 1: /* IPv6, a flow label */
		key.remote_ipv6[0] = 0x20010db8;
		key.remote_ipv6[3] = 7;
		key.local_ipv6[0] = 0x20010db8;
		key.local_ipv6[3] = 9;
		key.tunnel_label = 0xfff12345;
		put(5, bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_TUNINFO_IPV6 | BPF_F_DONT_FRAGMENT));
		break;
	case 2: /* the oldest layout (remote_ipv4 only), a label where IPv4 has none */
		key.remote_ipv4 = 0x0a000103;
		put(5, bpf_skb_set_tunnel_key(skb, &key, 8, BPF_F_NO_TUNNEL_KEY));
		key.tunnel_label = 5;
		put(6, bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0));
		break;
	default: /* bad size and flags */
		put(5, bpf_skb_set_tunnel_key(skb, &key, 12, 0));
		put(6, bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 1 << 7));
		break;
	}
	__builtin_memset(&got, 0x55, sizeof(got));
	put(7, bpf_skb_get_tunnel_key(skb, &got, sizeof(got), 0));
	put_key(8, &got);
	__builtin_memset(&got, 0x55, sizeof(got));
	put(14, bpf_skb_get_tunnel_key(skb, &got, sizeof(got), BPF_F_TUNINFO_IPV6 | BPF_F_TUNINFO_FLAGS));
	put_key(15, &got);
	__builtin_memset(&got, 0x55, sizeof(got));
	put(21, bpf_skb_get_tunnel_key(skb, &got, 24, BPF_F_TUNINFO_FLAGS));
	put_key(22, &got);
	put(28, bpf_skb_set_tunnel_opt(skb, opt, 6));
	put(29, bpf_skb_set_tunnel_opt(skb, opt, pick & 4 ? 4 : 12));
	__builtin_memset(opt_got, 0x55, sizeof(opt_got));
	put(30, bpf_skb_get_tunnel_opt(skb, opt_got, sizeof(opt_got)));
	put(31, ((__u64 *)opt_got)[0]);
	put(32, ((__u64 *)opt_got)[1]);
	put(33, bpf_skb_get_tunnel_opt(skb, opt_got, 8));
	put(34, bpf_redirect_peer(5, 1));
	put(35, bpf_redirect_neigh(5, &nh, 8, 0));
	put(36, bpf_redirect_neigh(5, 0, 0, 1));
	if (pick & 8)
		return bpf_redirect_neigh(5, &nh, sizeof(nh), 0);
	return bpf_redirect_peer(5, 0);
}

char _license[] SEC("license") = "GPL";
