// SPDX-License-Identifier: GPL-2.0
/* kfuncObjects: XDP and socket-filter programs that call kfuncs the kernel gives out references
 * and casts with: the open-coded bits iterator (bpf_iter_bits_*), bpf_task_from_pid /
 * bpf_task_release (KF_ACQUIRE | KF_RET_NULL, KF_RELEASE), bpf_cast_to_kern_ctx, the XDP conntrack
 * lookup and bpf_ct_release. Programs
 * named *_bad are ones the kernel refuses; the others load, and the ones without kernel
 * objects in them give the same test-run result everywhere.
 * (test/differential/kfuncObjects.test.ts loads each alone in the running kernel and in bpfbox.) */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* not in Debian 12's UAPI headers (6.1): the kernel's definition */
struct bpf_iter_bits {
	__u64 __opaque[2];
} __attribute__((aligned(8)));

/* libbpf matches a kfunc's prototype with the kernel's: a struct, not a forward declaration */
struct task_struct {
	int pid;
};

extern int bpf_iter_bits_new(struct bpf_iter_bits *it, const __u64 *unsafe_ptr__ign, __u32 nr_words) __ksym;
extern int *bpf_iter_bits_next(struct bpf_iter_bits *it) __ksym;
extern void bpf_iter_bits_destroy(struct bpf_iter_bits *it) __ksym;
extern struct task_struct *bpf_task_from_pid(__s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* net/netfilter/nf_conntrack_bpf.c's struct bpf_ct_opts, in its 12-byte form */
struct bpf_ct_opts___local {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u8 reserved[2];
};

struct nf_conn {
	unsigned long status;
};

extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *xdp_ctx, struct bpf_sock_tuple *bpf_tuple, __u32 len_tuple,
					 struct bpf_ct_opts___local *opts, __u32 len_opts) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

#define BPF_F_CURRENT_NETNS (-1)

/* bits_count: the set bits of two words (bits 0, 4, 63, 64, 66): count << 16 | sum of indexes */
SEC("xdp")
int bits_count(struct xdp_md *ctx)
{
	__u64 words[2] = { 0x8000000000000011ULL, 0x5 };
	struct bpf_iter_bits it;
	int *bit, n = 0, sum = 0;

	bpf_iter_bits_new(&it, words, 2);
	while ((bit = bpf_iter_bits_next(&it))) {
		n++;
		sum += *bit;
	}
	bpf_iter_bits_destroy(&it);
	return n << 16 | sum; /* 5 << 16 | 197 */
}

/* bits_errors: NULL and zero words are -EINVAL, 512 words -E2BIG; each iterator still destroyed */
SEC("xdp")
int bits_errors(struct xdp_md *ctx)
{
	__u64 word = 1;
	struct bpf_iter_bits it;
	int a, b, c;

	a = bpf_iter_bits_new(&it, (void *)0, 1);
	bpf_iter_bits_destroy(&it);
	b = bpf_iter_bits_new(&it, &word, 0);
	bpf_iter_bits_destroy(&it);
	c = bpf_iter_bits_new(&it, &word, 512);
	bpf_iter_bits_destroy(&it);
	return (-a) << 16 | (-b) << 8 | -c; /* 22, 22, 7 */
}

/* bits_leak_bad: an iterator never destroyed */
SEC("xdp")
int bits_leak_bad(struct xdp_md *ctx)
{
	__u64 word = 1;
	struct bpf_iter_bits it;

	bpf_iter_bits_new(&it, &word, 1);
	return 2;
}

/* task_none: no task has pid -1: NULL */
SEC("xdp")
int task_none(struct xdp_md *ctx)
{
	struct task_struct *p = bpf_task_from_pid(-1);

	if (!p)
		return 3;
	bpf_task_release(p);
	return 4;
}

/* task_leak_bad: a task reference never released */
SEC("xdp")
int task_leak_bad(struct xdp_md *ctx)
{
	struct task_struct *p = bpf_task_from_pid(1);

	return p ? 1 : 2;
}

/* task_unchecked_bad: released before its NULL check */
SEC("xdp")
int task_unchecked_bad(struct xdp_md *ctx)
{
	bpf_task_release(bpf_task_from_pid(1));
	return 2;
}

/* task_twice_bad: released twice */
SEC("xdp")
int task_twice_bad(struct xdp_md *ctx)
{
	struct task_struct *p = bpf_task_from_pid(1);

	if (!p)
		return 2;
	bpf_task_release(p);
	bpf_task_release(p);
	return 2;
}

/* task_socket_bad: bpf_task_from_pid is not registered for socket filters */
SEC("socket")
int task_socket_bad(struct __sk_buff *skb)
{
	struct task_struct *p = bpf_task_from_pid(-1);

	if (p)
		bpf_task_release(p);
	return 0;
}

/* kern_ctx: the cast itself (the kernel inlines it to r0 = r1) */
SEC("xdp")
int kern_ctx(struct xdp_md *ctx)
{
	void *k = bpf_cast_to_kern_ctx(ctx);

	asm volatile("" : : "r"(k));
	return 2;
}

/* kern_ctx_write_bad: the kernel's struct xdp_buff is not writable through the cast */
SEC("xdp")
int kern_ctx_write_bad(struct xdp_md *ctx)
{
	__u64 *k = bpf_cast_to_kern_ctx(ctx);

	*k = 0;
	return 2;
}

/* ct_lookup: -opts.error of an XDP conntrack lookup of `proto` over `tuple_sz` bytes of tuple */
static __always_inline int ct_lookup(struct xdp_md *ctx, __u8 proto, __u32 tuple_sz, __u32 opts_sz)
{
	struct bpf_ct_opts___local opts = { .netns_id = BPF_F_CURRENT_NETNS, .l4proto = proto };
	struct bpf_sock_tuple tup = {};
	struct nf_conn *ct;

	tup.ipv4.saddr = 0x0100007f;
	tup.ipv4.daddr = 0x0100007f;
	tup.ipv4.sport = 1;
	tup.ipv4.dport = 1;
	ct = bpf_xdp_ct_lookup(ctx, &tup, tuple_sz, &opts, opts_sz);
	if (ct) {
		bpf_ct_release(ct);
		return 255;
	}
	return -opts.error;
}

/* ct_miss: a TCP lookup of a connection nobody made (127.0.0.1:1 to itself): NULL, -ENOENT (2) */
SEC("xdp")
int ct_miss(struct xdp_md *ctx)
{
	return ct_lookup(ctx, 6, sizeof(((struct bpf_sock_tuple *)0)->ipv4), sizeof(struct bpf_ct_opts___local));
}

/* ct_errors: ICMP (-EPROTO, 71), an 8-byte opts (-EINVAL, 22), a 20-byte tuple (-EAFNOSUPPORT, 97) */
SEC("xdp")
int ct_errors(struct xdp_md *ctx)
{
	int a = ct_lookup(ctx, 1, 12, 12);
	int b = ct_lookup(ctx, 6, 12, 8);
	int c = ct_lookup(ctx, 6, 20, 12);

	return a << 16 | b << 8 | c;
}

/* ct_leak_bad: a connection looked up and never released */
SEC("xdp")
int ct_leak_bad(struct xdp_md *ctx)
{
	struct bpf_ct_opts___local opts = { .netns_id = BPF_F_CURRENT_NETNS, .l4proto = 6 };
	struct bpf_sock_tuple tup = {};

	return bpf_xdp_ct_lookup(ctx, &tup, sizeof(tup.ipv4), &opts, sizeof(opts)) ? 1 : 2;
}

/* ct_socket_bad: the conntrack kfuncs are registered for XDP and TC only */
SEC("socket")
int ct_socket_bad(struct __sk_buff *skb)
{
	struct bpf_ct_opts___local opts = { .netns_id = BPF_F_CURRENT_NETNS, .l4proto = 6 };
	struct bpf_sock_tuple tup = {};
	struct nf_conn *ct = bpf_xdp_ct_lookup((void *)skb, &tup, sizeof(tup.ipv4), &opts, sizeof(opts));

	if (ct)
		bpf_ct_release(ct);
	return 0;
}

char _license[] SEC("license") = "GPL";
