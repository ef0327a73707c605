import type { Kernel } from '../../kernel/kernel.js';

/**
 * The `results` array of the helper differentials (bpf/tc_meta.c, tc_base_helpers.c, tc_task.c,
 * xdp_dynptr.c …): a u64 slot per helper answer, read on both sides and compared as text.
 */

/** kernelSlots: the slots of `bpftool -j map dump`'s output, in key order. */
export function kernelSlots(dumpJson: string): bigint[] {
  const dump = JSON.parse(dumpJson) as { key: string[]; value: string[] }[];
  return dump.map((e) => Buffer.from(e.value.map((h) => parseInt(h, 16))).readBigUInt64LE(0));
}

/** bpfboxSlots: the first `n` slots of bpfbox's map `fd`, through the bpf() door. */
export function bpfboxSlots(k: Kernel, fd: number, n: number): bigint[] {
  return Array.from({ length: n }, (_, i) => {
    const v = new Uint8Array(8);
    k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: Uint8Array.from([i, 0, 0, 0]), value: v });
    return Buffer.from(v).readBigUInt64LE(0);
  });
}

/** showSlots: `i:value` with values signed, the text the assertions compare (a mismatch shows the slot). */
export const showSlots = (xs: readonly bigint[]): string => xs.map((x, i) => `${i}:${BigInt.asIntN(64, x)}`).join(' ');
