// SPDX-License-Identifier: GPL-2.0
// tc_base_helpers: the base helpers bpf_base_func_proto (and tc) give a root loader, each answer
// kept raw in `results` (test/differential/baseHelpers.test.ts compares them with the kernel's):
// bpf_perf_event_read(_value) on an empty slot, past max_entries and with stray flag bits (the
// _value buffer zeroed); bpf_skb_get_xfrm_state (no sec_path: -EINVAL, buffer zeroed); the
// calling task's cgroup ids; bpf_get_ns_current_pid_tgid for the (dev, ino) the packet carries,
// a wrong size and a wrong dev; bpf_send_signal(_thread) of the packet's signal; no LBR for
// bpf_get_branch_snapshot; bpf_trace_vprintk's length and its -EINVALs; bpf_map_lookup_percpu_elem
// for the packet's cpu; bpf_skb_under_cgroup / bpf_current_task_under_cgroup on an empty cgroup
// array (-EAGAIN) and past its end (-E2BIG); bpf_skb_cgroup_id and _ancestor_cgroup_id of the
// test run's socket.
//
// The packet, after its 14-byte Ethernet header: u64 dev, u64 ino, u32 signal, u32 cgroup
// level, u32 cpu (little-endian).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 40);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

struct input {
	__u64 dev;
	__u64 ino;
	__u32 sig;
	__u32 level;
	__u32 cpu;
} __attribute__((packed));

static __always_inline void put(__u32 slot, __u64 v)
{
	bpf_map_update_elem(&results, &slot, &v, BPF_ANY);
}

static __always_inline __u64 sum(const unsigned char *p, int n)
{
	__u64 s = 0;
	for (int i = 0; i < n; i++)
		s += p[i];
	return s;
}

SEC("tc")
int tc_base_helpers(struct __sk_buff *skb)
{
	struct bpf_perf_event_value pv;
	struct bpf_xfrm_state xs;
	struct bpf_pidns_info ns;
	struct input in = {};
	__u64 args[2] = { 7, 42 }, branches[3];
	char fmt[] = "base %d %d\n", fmt1[] = "base %d\n";
	__u32 zero = 0;
	__u64 *v;

	if (bpf_skb_load_bytes(skb, 14, &in, sizeof(in)))
		return 1;
	put(0, bpf_perf_event_read(&perf, BPF_F_CURRENT_CPU));
	put(1, bpf_perf_event_read(&perf, 100));
	put(2, bpf_perf_event_read(&perf, 1ULL << 32));
	__builtin_memset(&pv, 0xff, sizeof(pv));
	put(3, bpf_perf_event_read_value(&perf, BPF_F_CURRENT_CPU, &pv, sizeof(pv)));
	put(4, sum((void *)&pv, sizeof(pv)));
	__builtin_memset(&pv, 0xff, sizeof(pv));
	put(5, bpf_perf_event_read_value(&perf, 0, &pv, 16));
	put(6, sum((void *)&pv, sizeof(pv)));
	__builtin_memset(&xs, 0xff, sizeof(xs));
	put(7, bpf_skb_get_xfrm_state(skb, 0, &xs, sizeof(xs), 0));
	put(8, sum((void *)&xs, sizeof(xs)));
	put(9, bpf_get_current_cgroup_id());
	put(10, bpf_get_current_ancestor_cgroup_id(in.level));
	put(11, bpf_get_current_ancestor_cgroup_id(0));
	put(12, bpf_get_current_ancestor_cgroup_id(100));
	__builtin_memset(&ns, 0xff, sizeof(ns));
	put(13, bpf_get_ns_current_pid_tgid(in.dev, in.ino, &ns, sizeof(ns)));
	// the pids are bpftool's in the kernel and bpfbox's own here: only their shape
	put(14, ns.pid != 0 && ns.pid != 0xffffffff);
	put(15, ns.pid == ns.tgid);
	__builtin_memset(&ns, 0xff, sizeof(ns));
	put(16, bpf_get_ns_current_pid_tgid(in.dev, in.ino, &ns, 4));
	put(17, sum((void *)&ns, sizeof(ns)));
	__builtin_memset(&ns, 0xff, sizeof(ns));
	put(18, bpf_get_ns_current_pid_tgid(in.dev + 1, in.ino, &ns, sizeof(ns)));
	put(19, sum((void *)&ns, sizeof(ns)));
	put(20, bpf_get_ns_current_pid_tgid(in.dev, in.ino + 1, &ns, sizeof(ns)));
	put(21, bpf_send_signal(in.sig));
	put(22, bpf_send_signal_thread(in.sig));
	__builtin_memset(branches, 0xab, sizeof(branches));
	put(23, bpf_get_branch_snapshot(branches, sizeof(branches), 0));
	put(24, bpf_get_branch_snapshot(branches, sizeof(branches), 1));
	put(25, sum((void *)branches, sizeof(branches)));
	put(26, bpf_trace_vprintk(fmt, sizeof(fmt), args, sizeof(args)));
	put(27, bpf_trace_vprintk(fmt, sizeof(fmt), args, 12));
	put(28, bpf_trace_vprintk(fmt, sizeof(fmt), args, 8));
	put(29, bpf_trace_vprintk(fmt1, sizeof(fmt1), args, sizeof(args)));
	v = bpf_map_lookup_percpu_elem(&pcpu, &zero, in.cpu);
	put(30, v ? 1 + *v : 0);
	put(31, bpf_skb_under_cgroup(skb, &cgroups, 0));
	put(32, bpf_skb_under_cgroup(skb, &cgroups, 2));
	put(33, bpf_current_task_under_cgroup(&cgroups, 1));
	put(34, bpf_current_task_under_cgroup(&cgroups, 100));
	// the test run's socket, made by the calling task, is in its cgroup
	put(35, bpf_skb_cgroup_id(skb));
	put(36, bpf_skb_ancestor_cgroup_id(skb, in.level));
	return 0;
}

char _license[] SEC("license") = "GPL";
