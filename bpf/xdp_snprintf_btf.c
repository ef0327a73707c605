// SPDX-License-Identifier: GPL-2.0
/*
 * bpf_snprintf_btf against the kernel (test/differential/snprintfBtf.test.ts). The kernel shows
 * types of vmlinux BTF only (bpf_btf_printf_prepare), so the types here are copies of
 * vmlinux's, member for member and typedef for typedef (bpftool btf dump ... format c on
 * 6.18): libbpf relocates bpf_core_type_id_kernel to vmlinux's id, bpfbox to this object's.
 * iphdr has bitfields, typedefs and a nested anonymous union of structs; acpi_platform_list
 * char arrays, an enum and pointers; ethhdr unsigned char arrays. Each is shown with every
 * combination of BTF_F_* (the packet's first byte; `results[type * 16 + flags]`: the return
 * value, then the string), then a truncated show and the -EINVAL cases.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

typedef __u16 __be16;
typedef __u16 __sum16;
typedef __u32 __be32;
typedef __u32 u32;

struct iphdr {
	__u8 ihl : 4;
	__u8 version : 4;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__sum16 check;
	union {
		struct {
			__be32 saddr;
			__be32 daddr;
		};
		struct {
			__be32 saddr;
			__be32 daddr;
		} addrs;
	};
};

enum acpi_predicate {
	all_versions = 0,
	less_than_or_equal = 1,
	equal = 2,
	greater_than_or_equal = 3,
};

struct acpi_platform_list {
	char oem_id[7];
	char oem_table_id[9];
	u32 oem_revision;
	char *table;
	enum acpi_predicate pred;
	char *reason;
	u32 data;
};

struct ethhdr {
	unsigned char h_dest[6];
	unsigned char h_source[6];
	__be16 h_proto;
};

#define TEXT 480
struct result {
	__s64 ret;
	char text[TEXT];
};

#define TYPES 3
#define SLOTS (TYPES * 16 + 4)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, struct result);
} results SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct acpi_platform_list);
} data SEC(".maps");

static __always_inline void show(__u32 slot, void *obj, __u32 type_id, __u32 size, __u32 ptr_size, __u64 flags)
{
	struct btf_ptr p = { .ptr = obj, .type_id = type_id };
	struct result *r = bpf_map_lookup_elem(&results, &slot);

	if (!r)
		return;
	if (size > TEXT)
		size = TEXT;
	if (size < 1)
		size = 1;
	r->ret = bpf_snprintf_btf(r->text, size, &p, ptr_size, flags);
}

SEC("xdp")
int xdp_snprintf_btf(struct xdp_md *ctx)
{
	struct iphdr ip = {
		.ihl = 5, .version = 4, .tot_len = 0x5400, .frag_off = 0x40, .ttl = 64, .protocol = 1,
		.check = 0x1234, .saddr = 0x0100000a,
	};
	struct ethhdr eth = {
		.h_dest = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		.h_source = { 0x02, 'A', 'b', 0, 0x7f, 0xe9 },
		.h_proto = 0x0008,
	};
	__u32 zero = 0;
	struct acpi_platform_list *acpi = bpf_map_lookup_elem(&data, &zero);
	__u32 ids[TYPES] = {
		bpf_core_type_id_kernel(struct iphdr),
		bpf_core_type_id_kernel(struct acpi_platform_list),
		bpf_core_type_id_kernel(struct ethhdr),
	};

	if (!acpi)
		return 0;
	__builtin_memcpy(acpi->oem_id, "BOCHS\0", 7);
	__builtin_memcpy(acpi->oem_table_id, "BX\x01" "C\xe9\0\0\0", 9);
	acpi->pred = equal;
	acpi->data = 0xffffffff;
	/* the flags come in the packet's first byte: one run per combination keeps the program small */
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 1 > data_end)
		return 0;
	__u64 flags = *(__u8 *)data & 15;
	/* a pointer other than NULL prints as itself only raw (%px): %p hashes it */
	acpi->reason = flags & 4 ? (char *)0xffff888012345678ULL : 0;
	show(flags, &ip, ids[0], TEXT, sizeof(struct btf_ptr), flags);
	show(16 + flags, acpi, ids[1], TEXT, sizeof(struct btf_ptr), flags);
	show(32 + flags, &eth, ids[2], TEXT, sizeof(struct btf_ptr), flags);
	show(48, &ip, ids[0], 20, sizeof(struct btf_ptr), 0);	/* truncated */
	show(49, &ip, ids[0], TEXT, sizeof(struct btf_ptr), 16);	/* a flag beyond BTF_F_ALL */
	show(50, &ip, 0, TEXT, sizeof(struct btf_ptr), 0);	/* type id 0 */
	show(51, &ip, ids[0], TEXT, 8, 0);			/* btf_ptr_size */
	return 2;
}

char _license[] SEC("license") = "GPL";
