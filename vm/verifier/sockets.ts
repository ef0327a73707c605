import { EACCES, refuse } from './refuse.js';
import { type Reg, type SockType, kindName } from './state.js';

/*
 * Socket pointers as the kernel's verifier sees them (kernel/bpf/verifier.c, net/core/filter.c):
 * PTR_TO_SOCK_COMMON (the fields every socket has: __sk_buff.sk, bpf_skc_lookup_tcp),
 * PTR_TO_SOCKET (a full socket: bpf_sk_lookup_tcp/udp, bpf_sk_fullsock, sk_msg_md.sk) and
 * PTR_TO_TCP_SOCK (bpf_tcp_sock), each _OR_NULL until a NULL check. They are read through
 * struct bpf_sock and struct bpf_tcp_sock (include/uapi/linux/bpf.h), never written, never
 * offset. bpfbox has no sockets: at run time every lookup misses (hooks/helpers/socket.ts), so
 * these pointers only ever exist in the verifier.
 */

/**
 * BPF_SOCK: struct bpf_sock's fields, by offset, with their sizes:
 *
 *    0 bound_dev_if   4 family      8 type       12 protocol   16 mark   20 priority
 *   24 src_ip4       28 src_ip6[4] 44 src_port   48 dst_port (__be16) 50 (padding)
 *   52 dst_ip4       56 dst_ip6[4] 72 state      76 rx_queue_mapping   80 (end)
 */
const BPF_SOCK = { type: 8, priorityEnd: 24, srcIp4: 24, srcIp6: 28, dstPort: 48, dstIp4: 52, dstIp6: 56, size: 80 } as const;
/** The bpf_sock fields that allow 1- and 2-byte reads (the `case` list of bpf_sock_is_valid_access before dst_port). */
const NARROW_OK: ReadonlySet<number> = new Set([
  72, // state
  4, // family
  8, // type
  12, // protocol
  44, // src_port
  76, // rx_queue_mapping
]);

/** bpf_ctx_narrow_access_ok: a power-of-two size no larger than the field. */
const narrowOk = (size: number, field: number): boolean => size <= field && (size & (size - 1)) === 0;

/** bpfSockIsValidAccess: bpf_sock_is_valid_access (net/core/filter.c, 6.18): reads of struct bpf_sock. */
export function bpfSockIsValidAccess(off: number, size: number): boolean {
  if (off < 0 || off >= BPF_SOCK.size || off % size !== 0) return false;
  const ip = (at: number, n: number) => off >= at && off < at + 4 * n;
  if (NARROW_OK.has(off) || ip(BPF_SOCK.srcIp4, 1) || ip(BPF_SOCK.srcIp6, 4) || ip(BPF_SOCK.dstIp4, 1) || ip(BPF_SOCK.dstIp6, 4))
    return narrowOk(size, 4);
  // dst_port: a __be16, readable as the 4-byte word that holds it too (backward compatibility)
  if (off === BPF_SOCK.dstPort || off === BPF_SOCK.dstPort + 1) return narrowOk(size, size === 4 ? 4 : 2);
  if (off >= BPF_SOCK.dstPort + 2 && off < BPF_SOCK.dstIp4) return false;
  return size === 4;
}

/** bpfSockCommonIsValidAccess: bpf_sock_common_is_valid_access: bpf_sock without type, protocol, mark, priority. */
export function bpfSockCommonIsValidAccess(off: number, size: number): boolean {
  if (off >= BPF_SOCK.type && off < BPF_SOCK.priorityEnd) return false;
  return bpfSockIsValidAccess(off, size);
}

/** BPF_TCP_SOCK: struct bpf_tcp_sock ends after icsk_retransmits (112); bytes_received (80) and bytes_acked (88) are the u64s. */
const BPF_TCP_SOCK = { end: 112, u64: [80, 88] } as const;

/** bpfTcpSockIsValidAccess: bpf_tcp_sock_is_valid_access: whole fields of struct bpf_tcp_sock. */
export function bpfTcpSockIsValidAccess(off: number, size: number): boolean {
  if (off < 0 || off >= BPF_TCP_SOCK.end || off % size !== 0) return false;
  return size === ((BPF_TCP_SOCK.u64 as readonly number[]).includes(off) ? 8 : 4);
}

const ACCESS: Readonly<Record<SockType, (off: number, size: number) => boolean>> = {
  sock_common: bpfSockCommonIsValidAccess,
  sock: bpfSockIsValidAccess,
  tcp_sock: bpfTcpSockIsValidAccess,
};

/** sockAccess: a load or store through a socket pointer (check_mem_access's type_is_sk_pointer branch, check_sock_access). */
export function sockAccess(base: Reg & { k: 'sock' }, r: number, off: number, size: number, write: boolean): void {
  if (write) refuse(`R${r} cannot write into ${base.type}`, EACCES);
  if (!ACCESS[base.type](off, size)) refuse(`R${r} invalid ${base.type} access off=${off} size=${size}`, EACCES);
}

/**
 * SockArg: the socket argument kinds of helper prototypes (enum bpf_arg_type):
 * sock ARG_PTR_TO_SOCKET (fullsock_types), sockc ARG_PTR_TO_SOCK_COMMON (sock_types),
 * btfsockc ARG_PTR_TO_BTF_ID_SOCK_COMMON (btf_id_sock_common_types, which bpf_sk_release takes
 * with OBJ_RELEASE and bpf_sk_assign with PTR_MAYBE_NULL). Map helpers of SOCKMAP, SOCKHASH and
 * SK_STORAGE take these too: this table is the one place that says what each accepts.
 */
export type SockArg = 'sock' | 'sockc' | 'btfsockc';

/** SOCK_ARG_TYPES: the register kinds each accepts, as the kernel's message lists them (compatible_reg_types). */
export const SOCK_ARG_TYPES: Readonly<Record<SockArg, readonly string[]>> = {
  sock: ['sock'],
  sockc: ['sock_common', 'sock', 'tcp_sock', 'xdp_sock'],
  btfsockc: ['sock_common', 'sock', 'tcp_sock', 'xdp_sock', 'ptr_', 'trusted_ptr_'],
};

/**
 * sockArgument: check register `r` against a socket argument (check_reg_type); returns the
 * reference the register carries (0: none), for release and for casts to pass on.
 */
export function sockArgument(v: Reg, r: number, a: SockArg): number {
  const want = SOCK_ARG_TYPES[a];
  // PTR_TO_BTF_ID of a socket struct (bpf_skc_to_*'s results): btf_struct_ids_match against sock_common
  if (a === 'btfsockc' && v.k === 'mem' && v.btf) {
    if (!SOCK_BTF.has(v.btf)) refuse(`R${r} is of type ${v.btf} but sock_common is expected`, EACCES);
    return v.ref;
  }
  if (v.k !== 'sock' || !want.includes(v.type)) refuse(`R${r} type=${kindName(v)} expected=${want.join(', ')}`, EACCES);
  return (v as Reg & { k: 'sock' }).ref;
}

/**
 * SOCK_BTF: the kernel socket structs (6.18's BTF sizes) that begin with a struct sock_common,
 * as bpf_skc_to_* return them (RET_PTR_TO_BTF_ID_OR_NULL) and ARG_PTR_TO_BTF_ID_SOCK_COMMON takes them.
 */
export const SOCK_BTF: ReadonlyMap<string, number> = new Map([
  ['sock_common', 136],
  ['sock', 784],
  ['tcp_sock', 2304],
  ['tcp6_sock', 2432],
  ['udp6_sock', 1472],
  ['tcp_timewait_sock', 248],
  ['tcp_request_sock', 312],
  ['unix_sock', 1152],
  ['mptcp_sock', 1936],
]);

/**
 * SockRet: what a helper returns (enum bpf_return_type): RET_PTR_TO_SOCKET_OR_NULL,
 * RET_PTR_TO_SOCK_COMMON_OR_NULL, RET_PTR_TO_TCP_SOCK_OR_NULL; `acquire` for the lookups
 * (is_acquire_function), `cast` for bpf_sk_fullsock and bpf_tcp_sock (is_ptr_cast_function:
 * r0 carries the argument's reference).
 */
export interface SockRet {
  readonly type: SockType;
  readonly how: 'acquire' | 'cast' | 'plain';
}

/**
 * ctxSocket: the register a context read of a socket field gives (is_valid_access's
 * info->reg_type: __sk_buff.sk PTR_TO_SOCK_COMMON_OR_NULL, sk_msg_md.sk PTR_TO_SOCKET), named
 * as the type's VerifierOps.pointerFields name it; a maybe-NULL one gets a fresh id for its NULL
 * check, none a reference. Undefined for a name that is not a socket kind.
 */
export function ctxSocket(name: string, env: { nextId(): number }): Reg | undefined {
  const type = name.replace(/_or_null$/, '') as SockType;
  if (!(type in ACCESS)) return undefined;
  return name.endsWith('_or_null') ? { k: 'sock_or_null', type, ref: 0, id: env.nextId() } : { k: 'sock', type, ref: 0 };
}
