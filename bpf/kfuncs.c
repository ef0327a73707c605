// SPDX-License-Identifier: GPL-2.0
/* kfuncs: XDP programs that call kernel functions through `__ksym` externs (libbpf's
 * BPF_PSEUDO_KFUNC_CALL): open-coded numeric iterators, XDP dynptrs and their slices, and a
 * weak extern no kernel has (bpf_ksym_exists() is false, the call is never reached). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* not in Debian 12's UAPI headers (6.1): the kernel's definition */
struct bpf_iter_num {
	__u64 __opaque[1];
} __attribute__((aligned(8)));

/* libbpf's bpf_ksym_exists() without its static assertion (not in Debian 12's libbpf) */
#define bpf_ksym_exists(sym) (!!(sym))

extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;
extern int bpf_dynptr_from_xdp(struct xdp_md *x, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *ptr, __u32 offset, void *buffer, __u32 buffer__szk) __ksym;
extern int bpf_kfunc_no_kernel_has(void) __ksym __weak;

/* iter_sum: the sum of 0..9 by an open-coded iterator, plus the first packet byte */
SEC("xdp")
int iter_sum(struct xdp_md *ctx)
{
	struct bpf_iter_num it;
	int *v, sum = 0;

	bpf_iter_num_new(&it, 0, 10);
	while ((v = bpf_iter_num_next(&it)))
		sum += *v;
	bpf_iter_num_destroy(&it);
	return sum; /* 45 */
}

/* dynptr_proto: the EtherType read through a dynptr slice; XDP_PASS (2) if the frame is
 * shorter than a header. (The 6.18 kernel refuses bpf_dynptr_slice_rdwr() here with EPERM.) */
SEC("xdp")
int dynptr_proto(struct xdp_md *ctx)
{
	struct bpf_dynptr ptr;
	__u8 buf[14];
	__u8 *eth;

	if (bpf_dynptr_from_xdp(ctx, 0, &ptr))
		return 0;
	eth = bpf_dynptr_slice(&ptr, 0, buf, sizeof(buf));
	if (!eth)
		return 2;
	return (eth[12] << 8) | eth[13];
}

/* weak_absent: a weak kfunc the kernel lacks resolves to 0, so its call is dead code */
SEC("xdp")
int weak_absent(struct xdp_md *ctx)
{
	if (bpf_ksym_exists(bpf_kfunc_no_kernel_has))
		return bpf_kfunc_no_kernel_has();
	return 7;
}

char _license[] SEC("license") = "GPL";
