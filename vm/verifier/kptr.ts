import { kernStructSize } from './btfStruct.js';
import { EACCES, EINVAL, refuse, unsupported } from './refuse.js';
import { type Scalar, isConstScalar } from './scalar.js';
import * as T from './tnum.js';
import { type KptrInfo, type MapInfo, type Reg, kindName } from './state.js';

/*
 * kptrs in map values (kernel/bpf/verifier.c: check_map_access's BPF_KPTR_* fields,
 * check_map_kptr_access, map_kptr_match_type, btf_ld_kptr_type, process_kptr_func and
 * bpf_kptr_xchg's argument and return rules). A kptr field is 8 bytes a program reaches only by
 * an aligned 8-byte load or store (BPF_MEM mode), or, for a referenced one (`__kptr`), only by
 * bpf_kptr_xchg. What bpfbox models of them:
 *  - a load gives PTR_TO_BTF_ID | PTR_MAYBE_NULL: MEM_RCU for a referenced kptr to an RCU-protected
 *    struct (task_struct, cgroup: rcu_protected_object; bpfbox's program types are never sleepable,
 *    so a load is always in an RCU section), PTR_UNTRUSTED otherwise. bpfbox gives an untrusted
 *    pointer its `untrusted` BTF (btfStruct.ts: nothing in it readable, no helper takes it), a false
 *    refusal where the kernel would let a program read through it or store it back;
 *  - a store into a `__kptr_untrusted` field of NULL or of a pointer to the field's struct at offset 0;
 *    any store into a referenced one refused;
 *  - bpf_kptr_xchg(&value->field, ptr): the old pointer out with a new reference (or NULL), `ptr`
 *    (a referenced pointer of the field's struct, or NULL) released.
 * Local kptrs (bpf_obj_new objects, MEM_ALLOC) and `__percpu_kptr` fields are not modelled: map
 * creation refuses them (maps/spec.ts).
 */

/** RCU_PROTECTED: rcu_protected_types, the structs whose referenced kptrs load as MEM_RCU (of those bpfbox allows in a kptr). */
const RCU_PROTECTED = new Set(['task_struct', 'cgroup']);

type MapPtr = { readonly m: MapInfo; readonly off: number; readonly var: Scalar };

/**
 * kptrAccess: check_map_access for the kptr fields `size` bytes at `off` from a map value pointer
 * may touch: only a direct load or store (`direct`: not a helper's memory argument), at a constant
 * offset, exactly at the field, of 8 bytes. Returns the field touched, if any.
 */
export function kptrAccess(base: MapPtr, r: number, off: number, size: number, direct: boolean): KptrInfo | undefined {
  void r;
  const at = BigInt(base.off + off);
  const { smin, umax } = base.var;
  for (const f of base.m.kptrs ?? []) {
    const p = BigInt(f.off);
    if (!(smin + at < p + 8n && p < umax + at + BigInt(size))) continue;
    if (!direct) refuse('kptr cannot be accessed indirectly by helper', EACCES);
    if (base.var.var.mask !== 0n) refuse('kptr access cannot have variable offset', EACCES);
    const o = at + base.var.var.value;
    if (p !== o) refuse(`kptr access misaligned expected=${f.off} off=${o}`, EACCES);
    if (size !== 8) refuse('kptr access size must be BPF_DW', EACCES);
    return f;
  }
  return undefined;
}

/** kptrLoad: what a load of a kptr field gives (mark_btf_ld_reg with btf_ld_kptr_type's flags). */
export function kptrLoad(f: KptrInfo, nextId: () => number): Reg {
  const id = nextId();
  if (f.tag === 'kptr' && RCU_PROTECTED.has(f.struct)) {
    const size = kernStructSize(f.struct) ?? unsupported(`a kptr to struct ${f.struct}`);
    return { k: 'mem_or_null', size, off: 0, ref: 0, id, rdonly: true, btf: f.struct, trust: 'rcu' };
  }
  if (f.tag === 'percpu_kptr') return unsupported('a __percpu_kptr field');
  return { k: 'mem_or_null', size: 0, off: 0, ref: 0, id, rdonly: true, btf: 'untrusted', trust: 'untrusted' };
}

/** The type names map_kptr_match_type's refusal prints: the register's, and what the field takes. */
function badType(f: KptrInfo, v: Reg, r: number): never {
  const name = (v.k === 'mem' || v.k === 'mem_or_null') && v.btf && v.btf !== 'untrusted' ? v.btf : '';
  const also = f.tag === 'kptr_untrusted' ? ` or untrusted_ptr_${f.struct}` : '';
  return refuse(`invalid kptr access, R${r} type=${kindName(v)}${name} expected=ptr_${f.struct}${also}`, EINVAL);
}

const isNull = (v: Reg): boolean => v.k === 'scalar' && isConstScalar(v.s) && v.s.var.value === 0n;

/**
 * kptrMatch: map_kptr_match_type: a pointer to the field's struct (trusted, RCU or, for an
 * unreferenced field, untrusted; possibly NULL) at offset 0 (btf_struct_ids_match, strict for a referenced field).
 */
function kptrMatch(f: KptrInfo, v: Reg, r: number): void {
  if ((v.k !== 'mem' && v.k !== 'mem_or_null') || !v.btf || v.plain || v.dynptr !== undefined) return badType(f, v, r);
  if (v.btf === 'untrusted' || v.btf !== f.struct) return badType(f, v, r);
  if (v.k === 'mem' && (v.var.var.mask !== 0n || v.var.var.value !== 0n))
    refuse(`variable ${kindName(v)} access var_off=${T.show(v.var.var)} disallowed`, EACCES);
  if (v.off !== 0) return badType(f, v, r);
}

/**
 * kptrStore: check_map_kptr_access for BPF_STX (`src` the value's register) and BPF_ST: none into
 * a referenced kptr; NULL (the register then precise: `demand`) or a pointer map_kptr_match_type takes.
 */
export function kptrStore(f: KptrInfo, value: Reg, src: number | undefined, demand: (regs: number) => void): void {
  if (f.tag !== 'kptr_untrusted') refuse('store to referenced kptr disallowed', EACCES);
  if (src === undefined) {
    if (!isNull(value)) refuse(`BPF_ST imm must be 0 when storing to kptr at off=${f.off}`, EACCES);
    return;
  }
  if (isNull(value)) return demand(1 << src);
  kptrMatch(f, value, src);
}

/** kptrAtomic: an atomic instruction on a kptr field (check_map_kptr_access: BPF_MEM mode only). */
export function kptrAtomic(base: MapPtr, r: number, off: number, size: number): void {
  if (kptrAccess(base, r, off, size, true)) refuse('kptr in map can only be accessed using BPF_MEM instruction mode', EACCES);
}

/**
 * kptrXchgDest: bpf_kptr_xchg's first argument (ARG_KPTR_XCHG_DEST, process_kptr_func): a map
 * value pointer at a constant offset that is exactly a referenced kptr field. Returns the field.
 */
export function kptrXchgDest(v: Reg, r: number): KptrInfo {
  if (v.k !== 'map_value') return refuse(`R${r} type=${kindName(v)} expected=map_value, ptr_`, EACCES);
  const m = v.m;
  if (!m.btf) refuse(`map '${m.name ?? ''}' has to have BTF in order to use bpf_kptr_xchg`, EINVAL);
  if (v.var.var.mask !== 0n) refuse(`R${r} doesn't have constant offset. kptr has to be at the constant offset`, EINVAL);
  if (!m.kptrs?.length) refuse(`R${r} has no valid kptr`, EINVAL);
  const off = v.off + Number(BigInt.asIntN(64, v.var.var.value));
  const f = m.kptrs!.find((x) => x.off === off);
  if (!f) return refuse(`off=${off} doesn't point to kptr`, EACCES);
  if (f.tag !== 'kptr' && f.tag !== 'percpu_kptr') refuse(`off=${off} kptr isn't referenced kptr`, EACCES);
  return f;
}

/**
 * kptrXchgSrc: bpf_kptr_xchg's second argument (ARG_PTR_TO_BTF_ID_OR_NULL | OBJ_RELEASE, checked
 * against the field by map_kptr_match_type): NULL (made precise), or a referenced pointer to the
 * field's struct, not NULL. Returns the reference the call releases (0 for NULL).
 */
export function kptrXchgSrc(f: KptrInfo, v: Reg, r: number, demand: (regs: number) => void): number {
  if (isNull(v)) return (demand(1 << r), 0);
  const btf = (v.k === 'mem' || v.k === 'mem_or_null') && v.btf && v.btf !== 'untrusted' && !v.plain && v.dynptr === undefined;
  if (!btf) return refuse(`R${r} type=${kindName(v)} expected=ptr_, trusted_ptr_, rcu_ptr_`, EACCES);
  if (v.k === 'mem_or_null') return refuse(`Possibly NULL pointer passed to helper arg${r}`, EACCES);
  kptrMatch(f, v, r);
  if (!v.ref) refuse(`R${r} must be referenced when passed to release function`, EINVAL);
  return v.ref;
}
