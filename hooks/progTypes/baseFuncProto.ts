/**
 * BASE_FUNC_PROTO: the helpers (by kernel id) bpf_base_func_proto (kernel/bpf/helpers.c) gives
 * every type bpfbox models, as a privileged loader sees them; each type's get_func_proto
 * (net/core/filter.c) adds its own.
 */
export const BASE_FUNC_PROTO: readonly number[] = [
  1, 2, 3, 5, 6, 7, 8, 12, 42, 87, 88, 89, 93, 94, 125, 130, 131, 132, 133, 134, 160, 164, 165, 181,
];
