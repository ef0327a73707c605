// SPDX-License-Identifier: GPL-2.0
// sock_cookie: a socket filter asking about its socket. The cookie's value differs between
// the kernel and bpfbox by nature, so the return value packs only what both must agree on:
// the socket's uid, whether the cookie is nonzero, and whether it is stable within a run.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int sock_cookie(struct __sk_buff *skb)
{
	__u64 c1 = bpf_get_socket_cookie(skb);
	__u64 c2 = bpf_get_socket_cookie(skb);

	return (bpf_get_socket_uid(skb) << 8) | (c1 != 0) | (c1 == c2) << 1;
}

char LICENSE[] SEC("license") = "GPL";
