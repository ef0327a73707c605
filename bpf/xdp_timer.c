// SPDX-License-Identifier: GPL-2.0
// xdp_timer: bpf_timer_init, _set_callback, _start and _cancel on the struct bpf_timer of an
// array element and of a hash element. Every helper's raw answer goes to `results`; the
// callback (run after the program, once its timer expires) counts its calls in the value,
// keeps the key it was given and what bpf_timer_cancel of its own timer answered (-EDEADLK).
// A cancel drops the callback (6.12+): a start after it is -EINVAL until the callback is set again.
// The hash element's timer is started and its element then deleted: its callback never runs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2

struct elem {
	__u64 count;
	struct bpf_timer t;
	__s64 self_cancel;
	__u32 key;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct elem);
} timers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct elem);
} htimers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 24);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __always_inline void put(__u32 slot, __u64 v)
{
	bpf_map_update_elem(&results, &slot, &v, BPF_ANY);
}

static int fired(void *map, __u32 *key, struct elem *e)
{
	e->count++;
	e->key = *key + 100;
	e->self_cancel = bpf_timer_cancel(&e->t);
	return 0;
}

SEC("xdp")
int xdp_timer(struct xdp_md *ctx)
{
	__u32 k0 = 1, k1 = 0, hk = 7;
	struct elem zero = {}, *e, *other, *h;

	e = bpf_map_lookup_elem(&timers, &k0);
	other = bpf_map_lookup_elem(&timers, &k1);
	if (!e || !other)
		return XDP_ABORTED;
	put(0, bpf_timer_start(&e->t, 1000, 0));
	put(1, bpf_timer_cancel(&e->t));
	put(2, bpf_timer_set_callback(&e->t, fired));
	put(3, bpf_timer_init(&e->t, &timers, CLOCK_MONOTONIC));
	put(4, bpf_timer_init(&e->t, &timers, CLOCK_MONOTONIC));
	put(5, bpf_timer_start(&e->t, 1000, 0));
	put(6, bpf_timer_set_callback(&e->t, fired));
	put(7, bpf_timer_start(&e->t, 1000, 4));
	put(8, bpf_timer_start(&e->t, 1000000000, 0));
	put(9, bpf_timer_cancel(&e->t));
	put(10, bpf_timer_cancel(&e->t));
	put(11, bpf_timer_start(&e->t, 1000, 0));
	put(12, bpf_timer_set_callback(&e->t, fired));
	put(13, bpf_timer_start(&e->t, 1000, 0));
	put(14, bpf_timer_init(&other->t, &timers, CLOCK_PROCESS_CPUTIME_ID));

	if (bpf_map_update_elem(&htimers, &hk, &zero, BPF_ANY))
		return XDP_ABORTED;
	h = bpf_map_lookup_elem(&htimers, &hk);
	if (!h)
		return XDP_ABORTED;
	put(15, bpf_timer_init(&h->t, &htimers, CLOCK_MONOTONIC));
	put(16, bpf_timer_set_callback(&h->t, fired) | bpf_timer_start(&h->t, 1000, 0));
	put(17, bpf_map_delete_elem(&htimers, &hk));
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
