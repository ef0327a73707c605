// Global data in the spirit of the kernel's test_global_data: numbers, strings and structs
// across .data, .rodata and .bss, copied into result maps so userspace can check them, and a
// const volatile knob set before load.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct foo {
	__u8 a;
	__u32 b;
	__u64 c;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} result_number SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct foo);
} result_struct SEC(".maps");

static __u64 num0;                       /* .bss */
static __u64 num1 = 42;                  /* .data */
static const __u64 num2 = 24;            /* .rodata */
const volatile __u64 knob = 7;           /* .rodata, set before load */
static struct foo struct0 = { .a = 42, .b = 0xfefeefef, .c = 0x1111111111111111ULL };
static const struct foo struct1 = { .a = 41, .b = 0xeeeeefef, .c = 0x2222222222222222ULL };
char greeting[16] = "hello";             /* .data */

#define SET(map, i, v)                                  \
	do {                                            \
		__u32 k = i;                            \
		bpf_map_update_elem(&map, &k, &v, 0);  \
	} while (0)

SEC("tc")
int load_static_data(struct __sk_buff *skb)
{
	__u64 g = greeting[0];
	SET(result_number, 0, num0);
	SET(result_number, 1, num1);
	SET(result_number, 2, num2);
	__u64 k3 = knob;
	SET(result_number, 3, k3);
	SET(result_number, 4, g);
	SET(result_struct, 0, struct0);
	SET(result_struct, 1, struct1);
	num0 += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
