/**
 * VerifierOps: what the verifier needs of a program type, handed to it by whoever loads the
 * program (the kernel's `struct bpf_verifier_ops`, include/linux/bpf.h, which bpf_check takes
 * from its bpf_verifier_ops[] table by prog->type). hooks/progTypes/ fills one for each type
 * bpfbox models and a fallback for the rest; the verifier itself knows no program type.
 */
export interface VerifierOps {
  /**
   * isValidAccess: the type's is_valid_access: may a program read (or store) `size` bytes at
   * `off` of its context. A refusal is check_ctx_access's "invalid bpf_context access", the
   * same for every type. Absent where bpfbox does not model the type's context; the verifier
   * then says that it does not.
   */
  readonly isValidAccess?: (access: CtxAccess) => boolean;
  /**
   * packetFields: the context fields a read turns into packet pointers (is_valid_access sets
   * PTR_TO_PACKET, PTR_TO_PACKET_END and PTR_TO_PACKET_META for them); absent: none.
   */
  readonly packetFields?: PacketFields;
  /**
   * pointerFields: context fields a read turns into a pointer (is_valid_access's
   * PTR_TO_SOCKET, PTR_TO_SOCK_COMMON_OR_NULL: struct sk_msg_md's and struct __sk_buff's `sk`),
   * by offset, with the kind's log name; socket kinds are modelled (sockets.ts), a read of any
   * other is refused as unsupported, never taken for a scalar.
   */
  readonly pointerFields?: Readonly<Record<number, string>>;
  /**
   * getFuncProto: the type's get_func_proto, as a question: may its programs call helper `id`.
   * The prototypes themselves are the verifier's (PROTOS in helpers.ts); a helper the type
   * does not offer is refused, naming it.
   */
  readonly getFuncProto: (id: number) => boolean;
  /**
   * mayAccessSkb: may_access_skb (kernel/bpf/verifier.c): BPF_LD_ABS and BPF_LD_IND may read
   * the packet (the types whose ops have gen_ld_abs: socket filters and tc).
   */
  readonly mayAccessSkb: boolean;
  /**
   * directPacketWrite: may_access_direct_pkt_data (kernel/bpf/verifier.c) for BPF_WRITE:
   * stores through packet pointers are allowed ("cannot write into packet" otherwise).
   */
  readonly directPacketWrite: boolean;
  /**
   * retvalRange: the range check_return_code (kernel/bpf/verifier.c) holds r0 to at the main
   * program's exit; absent: none. XDP, socket filters and tc (SCHED_CLS, SCHED_ACT) have
   * none: the function's switch has no case for them, and its default accepts any r0. Types
   * bpfbox only verifies get theirs from hooks/progTypes/retvalRange.ts.
   */
  readonly retvalRange?: RetvalRange;
  /**
   * voidReturn: the program implements a function returning void (a struct_ops member, an LSM
   * hook): check_return_code returns before reading R0, so the main program may exit with R0 unset.
   */
  readonly voidReturn?: boolean;
}

/** CtxAccess: an access of `size` bytes at `off` of the context: a read, or a store when `write`. */
export interface CtxAccess {
  readonly off: number;
  readonly size: number;
  readonly write: boolean;
}

/** PacketFields: where a context holds its packet pointers: data, data_end, data_meta (absent: the context has none). */
export interface PacketFields {
  readonly data: number;
  readonly dataEnd: number;
  readonly dataMeta?: number;
}

/** RetvalRange: struct bpf_retval_range: the values r0 may hold at exit, both ends included. */
export interface RetvalRange {
  readonly minval: number;
  readonly maxval: number;
}
