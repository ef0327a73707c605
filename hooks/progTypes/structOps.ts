import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { BASE_FUNC_PROTO } from './baseFuncProto.js';

/** MAX_BPF_FUNC_ARGS: a struct_ops function takes at most 12 arguments, each a u64 of the context. */
const MAX_BPF_FUNC_ARGS = 12;

/**
 * StructOpsProto: a struct_ops member's function prototype as the verifier needs it: each
 * argument a scalar or a pointer to a struct (by name), and whether it returns void.
 */
export interface StructOpsProto {
  readonly args: readonly ({ readonly k: 'scalar' } | { readonly k: 'ptr'; readonly struct: string })[];
  readonly voidReturn: boolean;
}

const FUNCS: ReadonlySet<number> = new Set(BASE_FUNC_PROTO);

/**
 * structOpsVerifierOps: BPF_PROG_TYPE_STRUCT_OPS as the verifier sees a program for one member
 * (the subsystem's verifier_ops, bpf_tcp_ca_verifier_ops for tcp_congestion_ops): the context
 * is the arguments as an array of u64 (btf_ctx_access: reads only, at an argument, aligned to
 * its size; a pointer argument read whole); a pointer argument is a trusted PTR_TO_BTF_ID of its
 * struct, which bpfbox does not model (a read of one is refused as unsupported, naming it);
 * helpers are bpf_base_func_proto's; a void member's program may exit with R0 unset, the others
 * return any scalar (no range).
 */
export function structOpsVerifierOps(proto: StructOpsProto): VerifierOps {
  const nargs = Math.min(proto.args.length, MAX_BPF_FUNC_ARGS);
  const pointerFields: Record<number, string> = {};
  proto.args.forEach((a, i) => {
    if (a.k === 'ptr') pointerFields[8 * i] = `trusted_ptr_${a.struct}`;
  });
  return {
    isValidAccess: ({ off, size, write }) => {
      if (write || off < 0 || off >= 8 * nargs || off % size !== 0) return false;
      const arg = proto.args[Math.floor(off / 8)];
      return arg.k === 'ptr' ? size === 8 && off % 8 === 0 : [1, 2, 4, 8].includes(size);
    },
    pointerFields,
    getFuncProto: (id) => FUNCS.has(id),
    mayAccessSkb: false,
    directPacketWrite: false,
    voidReturn: proto.voidReturn,
  };
}
