import { XdpMd } from '../../uapi/xdp.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { BASE_FUNC_PROTO } from './baseFuncProto.js';
import { inField } from './ctxField.js';

/** xdp_func_proto: the base helpers, redirects, the adjust helpers, perf output, csum_diff, fib lookup, frags. */
const FUNCS: ReadonlySet<number> = new Set([...BASE_FUNC_PROTO, 23, 25, 28, 44, 51, 54, 65, 69, 188, 189, 190]);

/** xdp_is_valid_access (net/core/filter.c, 6.18): read-only 4-byte fields; egress_ifindex only for devmap programs. */
function xdpIsValidAccess(off: number, size: number, write: boolean, devmap = false): boolean {
  if (inField(off, XdpMd.egress_ifindex) && !devmap) return false;
  if (write) return false;
  return off >= 0 && off < XdpMd.SIZE && off % size === 0 && size === 4;
}

/**
 * xdpVerifierOps: BPF_PROG_TYPE_XDP as the verifier sees it (the kernel's xdp_verifier_ops,
 * net/core/filter.c): struct xdp_md read-only, its data, data_end and data_meta packet
 * pointers, xdp_func_proto's helpers; packet stores allowed, no LD_ABS, no return range.
 */
export const xdpVerifierOps: VerifierOps = {
  isValidAccess: ({ off, size, write }) => xdpIsValidAccess(off, size, write),
  packetFields: { data: XdpMd.data, dataEnd: XdpMd.data_end, dataMeta: XdpMd.data_meta },
  getFuncProto: (id) => FUNCS.has(id),
  mayAccessSkb: false,
  directPacketWrite: true,
};

/** xdpDevmapVerifierOps: an XDP program loaded for a DEVMAP entry (expected_attach_type BPF_XDP_DEVMAP): it may also read egress_ifindex. */
export const xdpDevmapVerifierOps: VerifierOps = {
  ...xdpVerifierOps,
  isValidAccess: ({ off, size, write }) => xdpIsValidAccess(off, size, write, true),
};
