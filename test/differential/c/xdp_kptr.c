// SPDX-License-Identifier: GPL-2.0
/* xdp_kptr: kptr fields in a map value and bpf_kptr_xchg (issue 18). Each answer goes to
 * `results`: 0 the old pointer bpf_kptr_xchg(&v->t, NULL) gave is not NULL, 1 the untrusted
 * kptr loaded is not NULL, 2 bpf_task_from_pid of a pid no task has is not NULL, 3 the second
 * xchg (of that NULL task) gave a pointer. A fresh element holds NULL everywhere, so the kernel
 * answers 0 to each; the return value is XDP_PASS once every step ran. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* not in Debian 12's libbpf headers: the selftests' bpf_experimental.h / libbpf 1.2+ tags */
#define __kptr __attribute__((btf_type_tag("kptr")))
#define __kptr_untrusted __attribute__((btf_type_tag("kptr_untrusted")))

/* the kernel finds the pointee by name in vmlinux's BTF (btf_parse_kptr): its members do not matter here */
struct task_struct {
	int pid;
};

struct elem {
	long n;
	struct task_struct __kptr *t;
	struct task_struct __kptr_untrusted *u;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct elem);
} kptrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

extern struct task_struct *bpf_task_from_pid(__s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

static void put(__u32 k, __u64 v)
{
	bpf_map_update_elem(&results, &k, &v, BPF_ANY);
}

SEC("xdp")
int xdp_kptr(struct xdp_md *ctx)
{
	struct task_struct *old, *p;
	__u32 key = 0;
	struct elem *v;

	v = bpf_map_lookup_elem(&kptrs, &key);
	if (!v)
		return XDP_ABORTED;
	old = bpf_kptr_xchg(&v->t, NULL);
	put(0, old != NULL);
	if (old)
		bpf_task_release(old);
	put(1, v->u != NULL);
	p = bpf_task_from_pid(0x7ffffff0);
	put(2, p != NULL);
	if (p) {
		old = bpf_kptr_xchg(&v->t, p);
		put(3, old != NULL);
		if (old)
			bpf_task_release(old);
	}
	v->n++;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
