// xdp-fwd: the live bench's in-kernel forwarder. Attached to both bridged ports, it sends each
// frame out of the port that `tx_port` maps the ingress ifindex to, with bpf_redirect_map over
// a BPF_MAP_TYPE_DEVMAP_HASH (keys and values are ifindexes of nsB, which the loader fills; an
// unmapped port drops). Ifindexes are per namespace, so the map is keyed by them, not by slot.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} tx_port SEC(".maps");

SEC("xdp")
int xdp_fwd(struct xdp_md *ctx)
{
	return bpf_redirect_map(&tx_port, ctx->ingress_ifindex, XDP_DROP);
}

char LICENSE[] SEC("license") = "GPL";
