// SPDX-License-Identifier: GPL-2.0
/* xdp_dynptr: the dynptr helpers, each raw answer kept in `results`: a local dynptr over a map
 * value (bpf_dynptr_from_mem) filled from the packet through an XDP dynptr (the kfunc
 * bpf_dynptr_from_xdp, read with bpf_dynptr_read), reads and writes in and out of bounds and
 * with flags, bpf_dynptr_data on both kinds, ring buffer dynptrs reserved, submitted and
 * discarded (the ring's byte count after them), and a write into the packet through the XDP
 * dynptr (the output bytes show it). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int bpf_dynptr_from_xdp(struct xdp_md *x, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[16]);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} rb SEC(".maps");

static __always_inline void put(__u32 slot, __u64 v)
{
	bpf_map_update_elem(&results, &slot, &v, BPF_ANY);
}

SEC("xdp")
int xdp_dynptr(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	struct bpf_dynptr local, xdp, null, r1, r2, r3;
	__u8 buf[16] = {}, mac[8] = { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	__u64 out = 0;
	__u32 zero = 0;
	__u8 *value, *p;

	value = bpf_map_lookup_elem(&scratch, &zero);
	if (!value)
		return XDP_ABORTED;
	__builtin_memset(value, 0, 16);
	put(0, bpf_dynptr_from_mem(value, 16, 0, &local));
	put(1, bpf_dynptr_from_xdp(ctx, 0, &xdp));
	put(2, bpf_dynptr_read(buf, 14, &xdp, 0, 0));
	put(3, bpf_dynptr_write(&local, 0, buf, 14, 0));
	put(4, bpf_dynptr_read(&out, 8, &local, 10, 0)); /* 10 + 8 > 16: -E2BIG */
	put(5, bpf_dynptr_write(&local, 12, mac, 4, 0));
	put(6, bpf_dynptr_write(&local, 13, mac, 4, 0)); /* -E2BIG */
	put(7, bpf_dynptr_write(&local, 0, mac, 4, 1)); /* flags: -EINVAL */
	put(8, bpf_dynptr_read(&out, 8, &xdp, len - 4, 0)); /* past the packet: -E2BIG */
	put(9, bpf_dynptr_read(&out, 8, &xdp, 6, 0));
	put(10, out);
	p = bpf_dynptr_data(&local, 8, 8);
	put(11, p ? *(__u64 *)p : 0xdead);
	put(12, bpf_dynptr_data(&xdp, 0, 8) != 0);
	put(13, bpf_dynptr_data(&local, 12, 8) != 0);
	/* ring buffer: one record written and submitted, one discarded, one refused for its flags */
	put(14, bpf_ringbuf_reserve_dynptr(&rb, 16, 0, &r1));
	put(15, bpf_dynptr_write(&r1, 2, buf, 14, 0));
	put(16, bpf_dynptr_write(&r1, 3, buf, 14, 0)); /* -E2BIG */
	bpf_ringbuf_submit_dynptr(&r1, 0);
	put(17, bpf_ringbuf_reserve_dynptr(&rb, 8, 1, &r2)); /* -EINVAL, the dynptr NULL */
	put(18, bpf_dynptr_read(&out, 1, &r2, 0, 0));       /* -EINVAL */
	bpf_ringbuf_discard_dynptr(&r2, 0);
	put(19, bpf_ringbuf_reserve_dynptr(&rb, 20, 0, &r3));
	bpf_ringbuf_discard_dynptr(&r3, 0);
	/* an empty record: its header alone */
	put(29, bpf_ringbuf_reserve_dynptr(&rb, 0, 0, &r3));
	bpf_ringbuf_submit_dynptr(&r3, 0);
	put(20, bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA));
	put(21, bpf_dynptr_from_mem(value, 16, 1, &null)); /* -EINVAL, the dynptr NULL */
	put(22, bpf_dynptr_read(&out, 1, &null, 0, 0));    /* -EINVAL */
	put(23, bpf_dynptr_data(&null, 0, 1) != 0);
	/* the packet: the destination MAC rewritten through the XDP dynptr */
	put(24, bpf_dynptr_write(&xdp, 0, mac, 6, 0));
	put(25, bpf_dynptr_write(&xdp, 0, mac, 4, 1));       /* flags: -EINVAL */
	put(26, bpf_dynptr_write(&xdp, len - 2, mac, 4, 0)); /* -E2BIG */
	put(27, *(__u64 *)value);
	put(28, *(__u64 *)(value + 8));
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
