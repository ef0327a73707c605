import { EACCES, refuse } from './refuse.js';
import { isConstScalar } from './scalar.js';
import { type Reg, kindName } from './state.js';

/**
 * BtfArg: helper arguments that are kernel objects by BTF id (ARG_PTR_TO_BTF_ID with its
 * argN_btf_id): task a task_struct (bpf_task_pt_regs, bpf_get_task_stack, bpf_find_vma), task0
 * the same or NULL (ARG_PTR_TO_BTF_ID_OR_NULL: bpf_task_storage_get/delete), cgrp0 a cgroup or
 * NULL (bpf_cgrp_storage_get/delete).
 */
export type BtfArg = 'task' | 'task0' | 'cgrp0';

const STRUCT: Readonly<Record<BtfArg, string>> = { task: 'task_struct', task0: 'task_struct', cgrp0: 'cgroup' };
/** The register types ARG_PTR_TO_BTF_ID accepts, as the kernel's message lists them (btf_ptr_types). */
const EXPECTED = 'ptr_, trusted_ptr_, rcu_ptr_';

/**
 * btfArgument: check register `r` against a BTF-id argument (check_reg_type, then
 * btf_struct_ids_match and check_func_arg_reg_off): a trusted pointer (or an acquired one) to
 * that struct, at its start; a known NULL where the argument may be NULL. An untrusted pointer
 * (a pointer member read out of a struct) is refused, as the kernel refuses PTR_UNTRUSTED here.
 */
export function btfArgument(v: Reg, r: number, a: BtfArg): void {
  const nullable = a !== 'task';
  if (nullable && v.k === 'scalar' && isConstScalar(v.s) && v.s.var.value === 0n) return;
  // a pointer loaded from a kptr_untrusted field is PTR_UNTRUSTED (kptr.ts): not in btf_ptr_types
  if ((v.k === 'mem' || v.k === 'mem_or_null') && v.trust === 'untrusted')
    return void refuse(`R${r} type=${kindName(v)} expected=${EXPECTED}`, EACCES);
  if (v.k === 'mem_or_null' && v.btf && v.btf !== 'untrusted') {
    if (!nullable) refuse(`Possibly NULL pointer passed to helper arg${r}`, EACCES);
  } else if (v.k !== 'mem' || !v.btf || v.btf === 'untrusted') return void refuse(`R${r} type=${kindName(v)} expected=${EXPECTED}`, EACCES);
  const want = STRUCT[a];
  if (v.btf !== want) refuse(`R${r} is of type ${v.btf} but ${want} is expected`, EACCES);
  const varOff = v.k === 'mem' ? v.var : undefined;
  if (varOff && (varOff.var.mask !== 0n || varOff.var.value !== 0n)) refuse(`R${r} variable trusted_ptr_ access disallowed`, EACCES);
  if (v.off !== 0) refuse(`R${r} is of type ${want} but ${want} is expected at off ${v.off}`, EACCES);
}
