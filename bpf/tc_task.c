// SPDX-License-Identifier: GPL-2.0
// tc_task: `current` as a kernel object and its local storage, each answer kept raw in `results`.
// bpfbox and the kernel run the program in different tasks, so what is compared is how the
// answers relate: bpf_get_current_task_btf's pid, tgid and comm (read at the 6.18 kernel's
// task_struct offsets, which both verifiers check against that kernel's BTF) against
// bpf_get_current_pid_tgid and bpf_get_current_comm; task storage create / lookup / delete
// (the storage is the task's: a new bpftool process each run in the kernel, deleted at the end
// here); NULL owners; bpf_find_vma at address 0 (no VMA: -ENOENT, the callback not called) and
// with flags (-EINVAL); bpf_get_task_stack with a size that is no whole number of entries
// (-EINVAL, buffer zeroed); bpf_task_pt_regs nonzero; cgroup storage with a NULL cgroup.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* struct task_struct in Linux 6.18 (x86-64): pid at 1264, tgid at 1268, comm[16] at 1752 */
#define TASK_PID 1264
#define TASK_TGID 1268
#define TASK_COMM 1752
/* BPF_MAP_TYPE_CGRP_STORAGE (Linux 6.2; older uapi headers lack it) */
#define MAP_TYPE_CGRP_STORAGE 32

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 24);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} task_store SEC(".maps");

struct {
	__uint(type, MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} cgrp_store SEC(".maps");

struct vm_area_struct;

static __always_inline void put(__u32 slot, __u64 v)
{
	bpf_map_update_elem(&results, &slot, &v, BPF_ANY);
}

/* marks that it ran (a constant store: bpfbox's verifier does not yet converge on a callback that counts) */
static long count_vma(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	*(__u64 *)data = 1;
	return 0;
}

SEC("tc")
int tc_task(struct __sk_buff *skb)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid(), calls = 0, init = 7, *v;
	char comm[16] = {}, stack[12] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	int pid = *(int *)((char *)task + TASK_PID), tgid = *(int *)((char *)task + TASK_TGID);
	__u64 tcomm = *(__u64 *)((char *)task + TASK_COMM), sum = 0;

	put(0, pid == (__u32)pid_tgid);
	put(1, tgid == (pid_tgid >> 32));
	bpf_get_current_comm(comm, sizeof(comm));
	put(2, tcomm == *(__u64 *)comm);
	put(3, bpf_task_storage_get(&task_store, task, 0, 0) == 0);
	v = bpf_task_storage_get(&task_store, task, &init, BPF_LOCAL_STORAGE_GET_F_CREATE);
	put(4, v ? *v : 1000);
	if (v)
		*v += 5;
	v = bpf_task_storage_get(&task_store, task, 0, 0);
	put(5, v ? *v : 1000);
	put(6, bpf_task_storage_delete(&task_store, task));
	put(7, bpf_task_storage_delete(&task_store, task));
	put(8, (__u64)bpf_task_storage_get(&task_store, 0, 0, BPF_LOCAL_STORAGE_GET_F_CREATE));
	put(9, bpf_task_storage_delete(&task_store, 0));
	put(10, (__u64)bpf_task_storage_get(&task_store, task, 0, 2));
	put(11, bpf_find_vma(task, 0, count_vma, &calls, 0));
	put(12, calls);
	put(13, bpf_find_vma(task, 0, count_vma, &calls, 1));
	put(14, bpf_get_task_stack(task, stack, sizeof(stack), 0));
	for (int i = 0; i < 12; i++)
		sum += stack[i];
	put(15, sum);
	put(16, bpf_task_pt_regs(task) != 0);
	put(17, (__u64)bpf_cgrp_storage_get(&cgrp_store, 0, 0, BPF_LOCAL_STORAGE_GET_F_CREATE));
	put(18, bpf_cgrp_storage_delete(&cgrp_store, 0));
	return 0;
}

char _license[] SEC("license") = "GPL";
