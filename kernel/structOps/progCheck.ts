import { type StructOpsProto, structOpsVerifierOps } from '../../hooks/progTypes/structOps.js';
import { Kind } from '../../uapi/btf.js';
import { Errno, fail } from '../../uapi/errno.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import type { ProgLoadAttr } from '../attr.js';
import type { Kernel } from '../kernel.js';
import { licenseIsGplCompatible } from '../objects.js';
import { pointee } from './baseBtf.js';

/**
 * structOpsProgOps: check_struct_ops_btf_id (kernel/bpf/verifier.c) for a
 * BPF_PROG_TYPE_STRUCT_OPS load, then the verifier's ops for its member: a GPL-compatible
 * license (EINVAL), an attach_btf_id (ENOTSUPP without) naming a subsystem's struct
 * (ENOTSUPP), expected_attach_type a member index (EINVAL) of a function-pointer member
 * (EINVAL) the subsystem's check_member accepts (its errno).
 */
export function structOpsProgOps(k: Kernel, a: ProgLoadAttr): VerifierOps {
  if (!licenseIsGplCompatible(a.license)) fail(Errno.EINVAL, 'struct ops programs must have a GPL compatible license');
  if (!a.attach_btf_id) fail(Errno.ENOTSUPP, 'struct_ops programs need an attach_btf_id');
  const ops = k.structOps.byTypeId(a.attach_btf_id) ?? fail(Errno.ENOTSUPP, `attach_btf_id ${a.attach_btf_id} is not a supported struct`);
  const idx = a.expected_attach_type ?? 0;
  const member = ops.type.members[idx] ?? fail(Errno.EINVAL, `attach to invalid member idx ${idx} of struct ${ops.type.name}`);
  const proto = ops.protos[idx] ?? fail(Errno.EINVAL, `attach to invalid member ${member.name}(@idx ${idx}) of struct ${ops.type.name}`);
  const err = ops.desc.checkMember?.(member, idx) ?? 0;
  if (err) fail(-err, `attach to unsupported member ${member.name} of struct ${ops.type.name}`);
  const sp: StructOpsProto = {
    voidReturn: proto.type === 0,
    args: proto.members.map((p) => {
      const target = pointee(ops.btf, p.type);
      return target && (target.kind === Kind.STRUCT || target.kind === Kind.FWD || target.kind === Kind.UNION)
        ? { k: 'ptr' as const, struct: target.name }
        : { k: 'scalar' as const };
    }),
  };
  return structOpsVerifierOps(sp);
}
