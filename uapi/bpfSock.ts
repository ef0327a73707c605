/**
 * BpfSock: struct bpf_sock (UAPI) offsets: the context of cgroup_sock programs (and what socket
 * pointers point at), 80 bytes. dst_port is a 2-byte __be16 followed by 2 bytes of padding.
 */
export const BpfSock = {
  bound_dev_if: 0,
  family: 4,
  type: 8,
  protocol: 12,
  mark: 16,
  priority: 20,
  src_ip4: 24,
  src_ip6: 28,
  src_port: 44,
  dst_port: 48,
  dst_ip4: 52,
  dst_ip6: 56,
  state: 72,
  rx_queue_mapping: 76,
  SIZE: 80,
} as const;
