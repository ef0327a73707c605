/**
 * struct bpf_fib_lookup (include/uapi/linux/bpf.h), 64 bytes: bpf_fib_lookup's in-out
 * argument, as byte offsets. `tos` (in) and `rt_metric` (out) share offset 12.
 *
 *   0 family | 1 l4_protocol | 2 sport | 4 dport | 6 tot_len (in) / mtu_result (out)
 *   8 ifindex | 12 tos / flowinfo / rt_metric | 16 src (16 bytes) | 32 dst (16 bytes)
 *   48 h_vlan_proto | 50 h_vlan_TCI (tbid in, 4 bytes) | 52 smac[6] | 58 dmac[6]
 */
export const BpfFibLookup = {
  family: 0,
  l4_protocol: 1,
  sport: 2,
  dport: 4,
  tot_len: 6,
  ifindex: 8,
  tos: 12,
  rt_metric: 12,
  src: 16,
  dst: 32,
  vlan_proto: 48,
  vlan_tci: 50,
  smac: 52,
  dmac: 58,
  SIZE: 64,
} as const;

/** FibFlag: bpf_fib_lookup's flags (`BPF_FIB_LOOKUP_*`). */
export const FibFlag = {
  BPF_FIB_LOOKUP_DIRECT: 1,
  BPF_FIB_LOOKUP_OUTPUT: 2,
  BPF_FIB_LOOKUP_SKIP_NEIGH: 4,
  BPF_FIB_LOOKUP_TBID: 8,
  BPF_FIB_LOOKUP_SRC: 16,
  BPF_FIB_LOOKUP_MARK: 32,
} as const;

/** FibRet: bpf_fib_lookup's return codes (`BPF_FIB_LKUP_RET_*`, without the prefix). */
export const FibRet = {
  SUCCESS: 0,
  BLACKHOLE: 1,
  UNREACHABLE: 2,
  PROHIBIT: 3,
  NOT_FWDED: 4,
  FWD_DISABLED: 5,
  UNSUPP_LWT: 6,
  NO_NEIGH: 7,
  FRAG_NEEDED: 8,
  NO_SRC_ADDR: 9,
} as const;
