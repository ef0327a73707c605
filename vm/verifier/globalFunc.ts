import { ProgType as P } from '../../uapi/progType.js';
import { dynptrArg } from './dynptr.js';
import { type Env, helperMemory } from './memory.js';
import { EINVAL, Refused, refuse } from './refuse.js';
import { scalarConst } from './scalar.js';
import { NONE, type Reg, type VState, unknownScalar } from './state.js';
import { cur } from './step.js';

/**
 * GlobalArg: one argument of a global function as its BTF declares it, with the decl tags
 * (`arg:ctx`, `arg:nonnull`, `arg:nullable`, `arg:trusted`, `arg:untrusted`, `arg:arena`, the
 * part after `arg:`) that name it: what btf_prepare_func_args reads. `size` is the pointee's
 * size where it has one (btf_resolve_size), `struct` its struct name.
 */
export type GlobalArg =
  | { readonly kind: 'int' }
  | { readonly kind: 'ptr'; readonly size?: number; readonly struct?: string; readonly tags: readonly string[] }
  | { readonly kind: 'other' };

/** GlobalFunc: a global (BTF_FUNC_GLOBAL) subprogram: its index among the subprograms (func#N), name and arguments. */
export interface GlobalFunc {
  readonly index: number;
  readonly name: string;
  readonly args: readonly GlobalArg[];
}

/** What the verifier makes of an argument (bpf_subprog_arg_info): ARG_ANYTHING, ARG_PTR_TO_CTX or ARG_PTR_TO_MEM (maybe NULL). */
type ArgModel = { readonly k: 'scalar' } | { readonly k: 'ctx' } | { readonly k: 'mem'; readonly size: number; readonly nullable: boolean };

/** The context struct each program type's functions take (btf_is_prog_ctx_type; bpf_ctx_convert). */
const CTX_STRUCT: Readonly<Record<number, string>> = {
  [P.BPF_PROG_TYPE_SOCKET_FILTER]: '__sk_buff',
  [P.BPF_PROG_TYPE_SCHED_CLS]: '__sk_buff',
  [P.BPF_PROG_TYPE_SCHED_ACT]: '__sk_buff',
  [P.BPF_PROG_TYPE_CGROUP_SKB]: '__sk_buff',
  [P.BPF_PROG_TYPE_XDP]: 'xdp_md',
};

/**
 * argModels: btf_prepare_func_args for the arguments bpfbox models: integers (ARG_ANYTHING),
 * the context (tagged `arg:ctx` or a pointer to the type's context struct), and pointers to
 * sized memory (ARG_PTR_TO_MEM, PTR_MAYBE_NULL unless tagged `arg:nonnull`). Undefined where an
 * argument is of another kind (trusted or untrusted BTF pointers, arena, dynptr, unsized): the
 * function is then walked with its caller's registers, as a static function is.
 */
export function argModels(fn: GlobalFunc, progType: number): readonly ArgModel[] | undefined {
  const out: ArgModel[] = [];
  for (const a of fn.args) {
    if (a.kind === 'int') out.push({ k: 'scalar' });
    else if (a.kind === 'other') return undefined;
    else if (a.tags.some((t) => t === 'trusted' || t === 'untrusted' || t === 'arena')) return undefined;
    else if (a.tags.includes('ctx') || (a.struct !== undefined && CTX_STRUCT[progType] === a.struct)) out.push({ k: 'ctx' });
    else if (a.struct === 'bpf_dynptr' || a.size === undefined || a.size === 0) return undefined;
    else out.push({ k: 'mem', size: a.size, nullable: !a.tags.includes('nonnull') });
  }
  return out;
}

/**
 * checkDynptrArgs: a global function walked with its caller's registers still has its
 * `const struct bpf_dynptr *` arguments checked at the call (btf_check_func_arg_match,
 * ARG_PTR_TO_DYNPTR | MEM_RDONLY: an initialised dynptr on the caller's stack).
 */
export function checkDynptrArgs(vs: VState, fn: GlobalFunc, env: Env): void {
  fn.args.forEach((a, i) => {
    if (a.kind !== 'ptr' || a.struct !== 'bpf_dynptr') return;
    try {
      dynptrArg(vs, i + 1, env);
    } catch (e) {
      if (e instanceof Refused)
        throw new Refused(EINVAL, `Caller passes invalid args into func#${fn.index} ('${fn.name}')`, [], [e.message]);
      throw e;
    }
  });
}

const isNull = (r: Reg) => r.k === 'scalar' && r.s.umin === 0n && r.s.umax === 0n;

/** notNull: mark_ptr_not_null_reg: what a pointer that may be NULL points at where it is not. */
function notNull(r: Reg): Reg {
  if (r.k === 'map_value_or_null') return { k: 'map_value', m: r.m, off: r.off, var: scalarConst(0n) };
  if (r.k === 'mem_or_null')
    return { k: 'mem', size: r.size, off: r.off, ref: r.ref, var: scalarConst(0n), rdonly: r.rdonly, plain: r.plain };
  return r;
}

/**
 * globalCall: check_func_call for a global function: no lock held, each argument register what
 * the function's BTF says (btf_check_func_arg_match; "Caller passes invalid args into
 * func#N ('name')" after the reason), and the registers the function starts with: a scalar
 * unknown, the context, or `size` bytes of memory (mem_or_null while it may be NULL).
 */
export function globalCall(vs: VState, fn: GlobalFunc, models: readonly ArgModel[], env: Env): Reg[] {
  if (vs.lock) refuse('global function calls are not allowed while holding a lock,\nuse static function instead', EINVAL);
  const regs = cur(vs).regs;
  const args: Reg[] = [];
  models.forEach((m, i) => {
    const r = i + 1;
    const reg = regs[r];
    const fail = (why: string): never => {
      throw new Refused(EINVAL, `Caller passes invalid args into func#${fn.index} ('${fn.name}')`, [], [why]);
    };
    if (m.k === 'scalar') {
      if (reg.k !== 'scalar') fail(`R${r} is not a scalar`);
      args.push(unknownScalar);
      return;
    }
    if (m.k === 'ctx') {
      if (reg.k !== 'ctx') fail(`arg#${i} expects pointer to ctx`);
      args.push({ k: 'ctx', off: 0 });
      return;
    }
    // check_mem_reg: NULL passes; otherwise `size` bytes readable and writable, a pointer that may
    // be NULL checked as if it were not, and then refused where the argument may not be NULL
    if (!isNull(reg)) {
      const size = scalarConst(BigInt(m.size));
      const there = notNull(reg);
      try {
        helperMemory(vs, there, r, size, false, env);
        helperMemory(vs, there, r, size, true, env);
      } catch (e) {
        if (e instanceof Refused) fail(e.message);
        throw e;
      }
      if (there !== reg && !m.nullable) fail(`arg#${i} is expected to be non-NULL`);
    }
    args.push(
      m.nullable
        ? { k: 'mem_or_null', size: m.size, off: 0, ref: 0, id: env.nextId(), plain: true }
        : { k: 'mem', size: m.size, off: 0, ref: 0, var: scalarConst(0n), plain: true },
    );
  });
  while (args.length < 5) args.push(NONE);
  return args;
}
