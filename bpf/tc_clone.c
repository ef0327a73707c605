// SPDX-License-Identifier: GPL-2.0
// tc_clone: bpf_clone_redirect to the loopback device (egress and ingress), to a device that
// does not exist, and with an unknown flag; the return value packs the four codes.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int tc_clone(struct __sk_buff *skb)
{
	long r1 = bpf_clone_redirect(skb, 1, 0);
	long r2 = bpf_clone_redirect(skb, 1, BPF_F_INGRESS);
	long r3 = bpf_clone_redirect(skb, 4242, 0);
	long r4 = bpf_clone_redirect(skb, 1, 2);

	return ((r1 & 0xff) << 24) | ((r2 & 0xff) << 16) | ((r3 & 0xff) << 8) | (r4 & 0xff);
}

char LICENSE[] SEC("license") = "GPL";
