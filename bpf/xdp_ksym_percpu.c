// SPDX-License-Identifier: GPL-2.0
/*
 * A typed percpu __ksym variable through bpf_this_cpu_ptr and bpf_per_cpu_ptr, as the kernel's
 * test_ksyms_btf.c reads bpf_prog_active. bpfbox provides no kernel variables yet: loading
 * this names the variable (test/elf/ksymVars.test.ts). The 6.18 kernel here refuses it too
 * ("ldimm64 failed to find the address for kernel symbol 'bpf_prog_active'": its kallsyms
 * lists no data symbols); a kernel with CONFIG_KALLSYMS_ALL loads it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern const int bpf_prog_active __ksym;

SEC("xdp")
int xdp_ksym_percpu(struct xdp_md *ctx)
{
	const int *here = bpf_this_cpu_ptr(&bpf_prog_active);
	const int *cpu0 = bpf_per_cpu_ptr(&bpf_prog_active, 0);

	if (!cpu0)
		return XDP_ABORTED;
	return *here == *cpu0 ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
