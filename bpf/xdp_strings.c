// SPDX-License-Identifier: GPL-2.0
// xdp_strings: bpf_strtol, bpf_strtoul and bpf_strncmp on text from the packet. Byte 12
// is the flags (the base), byte 13 how many bytes of the text from byte 14 the helpers see
// (1 to 32); every answer and parsed value is kept in `results`.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static const char want[] = "-42abc";

static __always_inline void put(__u32 slot, __u64 v)
{
	bpf_map_update_elem(&results, &slot, &v, BPF_ANY);
}

SEC("xdp")
int xdp_strings(struct xdp_md *ctx)
{
	char text[32] = {};
	__u8 hdr[2];
	long sres = 0x5555;
	unsigned long ures = 0x5555;
	__u32 len;

	if (bpf_xdp_load_bytes(ctx, 12, hdr, 2))
		return XDP_PASS;
	len = hdr[1];
	if (len < 1 || len > 32)
		return XDP_PASS;
	if (bpf_xdp_load_bytes(ctx, 14, text, len))
		return XDP_PASS;
	put(0, bpf_strtol(text, len, hdr[0], &sres));
	put(1, sres);
	put(2, bpf_strtoul(text, len, hdr[0], &ures));
	put(3, ures);
	put(4, bpf_strncmp(text, len, want));
	put(5, bpf_strncmp(text, 3, want));
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
