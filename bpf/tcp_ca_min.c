// tcp_ca_min: the smallest tcp_congestion_ops a BPF program can register: the three required
// members (ssthresh, cong_avoid, undo_cwnd) and a name, in a plain map (SEC(".struct_ops")) and a
// link map (SEC(".struct_ops.link")). The struct is declared here (no vmlinux.h): libbpf matches
// members by name against the running kernel's (or bpfbox's base) BTF.
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct sock;

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
};

SEC("struct_ops/bbx_ssthresh")
__u32 bbx_ssthresh(void *ctx)
{
	return 2;
}

SEC("struct_ops/bbx_cong_avoid")
void bbx_cong_avoid(void *ctx)
{
}

SEC("struct_ops/bbx_undo_cwnd")
__u32 bbx_undo_cwnd(void *ctx)
{
	return 10;
}

SEC(".struct_ops")
struct tcp_congestion_ops bbx_plain = {
	.ssthresh = (void *)bbx_ssthresh,
	.cong_avoid = (void *)bbx_cong_avoid,
	.undo_cwnd = (void *)bbx_undo_cwnd,
	.name = "bbx_plain",
};

SEC(".struct_ops.link")
struct tcp_congestion_ops bbx_link = {
	.ssthresh = (void *)bbx_ssthresh,
	.cong_avoid = (void *)bbx_cong_avoid,
	.undo_cwnd = (void *)bbx_undo_cwnd,
	.name = "bbx_link",
};

char _license[] SEC("license") = "GPL";
