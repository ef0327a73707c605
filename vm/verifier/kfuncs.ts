import { ProgType as P } from '../../uapi/progType.js';
import { helperMemory } from './memory.js';
import type { Env } from './memory.js';
import { EINVAL, refuse } from './refuse.js';
import { sameScalar } from './prune.js';
import { isConstScalar, scalarConst } from './scalar.js';
import { KERN_CTX } from './kernCtx.js';
import { dynptrArg, dynptrSpi, markDynptr } from './dynptr.js';
import { type DynptrType, type IterType, NONE, type Reg, type VState, kindName, mapRegs, unknownScalar } from './state.js';
import { cur, read } from './step.js';

/**
 * kfuncs: the kernel functions bpfbox offers programs (`extern … __ksym` calls, which libbpf
 * turns into `call` with src BPF_PSEUDO_KFUNC_CALL and imm the function's BTF id in vmlinux).
 * The kernel's kfunc BTF ids differ from build to build, so bpfbox numbers its own: the ELF
 * loader resolves names to these ids, the verifier checks each call against its prototype
 * (check_kfunc_call), and the runtime registers an implementation under the same id.
 */

/** KF_* flags (include/linux/btf.h). */
export const KF = {
  KF_ACQUIRE: 1 << 0,
  KF_RELEASE: 1 << 1,
  KF_RET_NULL: 1 << 2,
  KF_TRUSTED_ARGS: 1 << 4,
  KF_ITER_NEW: 1 << 8,
  KF_ITER_NEXT: 1 << 9,
  KF_ITER_DESTROY: 1 << 10,
  KF_SLEEPABLE: 1 << 5,
  KF_FASTCALL: 1 << 17,
} as const;

/**
 * KfuncArg: the argument kinds of the kfuncs bpfbox implements (the kernel's KF_ARG_PTR_TO_*
 * as their names and types select them): iter_uninit/iter a `struct bpf_iter_* *` on the
 * stack before or after its constructor, dynptr_uninit/dynptr a `struct bpf_dynptr *` (the
 * `__uninit` suffix) on the stack, ctx the program's context, buf_opt a buffer that may be
 * NULL sized by the next argument, szk that size (`__szk`: a constant), k a constant (`__k`),
 * scalar any number, ign any initialised register (`__ign`: not checked), release the
 * referenced object a KF_RELEASE kfunc puts (its struct is the kfunc's `btf`), mem memory the
 * kfunc reads and writes, sized by the next argument, sz (`__sz`, bounded, not necessarily constant).
 */
export type KfuncArg =
  | 'iter_uninit'
  | 'iter'
  | 'dynptr_uninit'
  | 'dynptr'
  | 'ctx'
  | 'buf_opt'
  | 'szk'
  | 'k'
  | 'scalar'
  | 'ign'
  | 'release'
  | 'mem'
  | 'sz';

/**
 * KfuncRet: int/void; iter_next `int *` (4 bytes, NULL when drained); slice/slice_rdwr the
 * dynptr's bytes, `szk` long; kern_ctx the program's kernel context (bpf_cast_to_kern_ctx);
 * untrusted an object of a type bpfbox does not know (bpf_rdonly_cast: nothing readable here);
 * btf a kernel object of the kfunc's `btf` struct (referenced with KF_ACQUIRE).
 */
export type KfuncRet = 'int' | 'void' | 'iter_next' | 'slice' | 'slice_rdwr' | 'kern_ctx' | 'untrusted' | 'btf';

/**
 * KfuncSet: the program types a kfunc set is registered for (register_btf_kfunc_id_set):
 * common every type; generic kernel/bpf/helpers.c's generic_kfunc_set; tracing the
 * BTF_KFUNC_HOOK_TRACING types (kernel/trace/bpf_trace.c's key_sig_kfunc_set); xdp/skb
 * net/core/filter.c's; ct net/netfilter/nf_conntrack_bpf.c's nf_conntrack_kfunc_set.
 */
type KfuncSet = 'common' | 'generic' | 'tracing' | 'xdp' | 'skb' | 'ct';

export interface KfuncDef {
  readonly id: number;
  readonly name: string;
  readonly args: readonly KfuncArg[];
  readonly ret: KfuncRet;
  readonly flags: number;
  readonly set: KfuncSet;
  /** A dynptr constructor: the kind of dynptr it makes (dynptr_xdp, dynptr_skb). */
  readonly dynptr?: 'xdp' | 'skb';
  /** An iterator's method: the iterator type (struct bpf_iter_num, bpf_iter_bits). */
  readonly iter?: IterType;
  /** The kernel struct a 'btf' return or 'release' argument is, and its size (6.18's BTF). */
  readonly btf?: { readonly name: string; readonly size: number };
  /** A 'ctx' argument of one program type's context (struct xdp_md or __sk_buff), not any context. */
  readonly ctxOf?: number;
}

/** ITER_SIZE: the bytes of each iterator's struct on the stack (struct bpf_iter_num / bpf_iter_bits). */
const ITER_SIZE: Readonly<Record<IterType, number>> = { num: 8, bits: 16 };

const TASK = { name: 'task_struct', size: 3264 };
const KEY = { name: 'bpf_key', size: 16 };
const NF_CONN = { name: 'nf_conn', size: 248 };
const { KF_ACQUIRE, KF_RELEASE, KF_RET_NULL, KF_SLEEPABLE, KF_FASTCALL } = KF;

/** KFUNC_BTF_ID_BASE: bpfbox's kfunc ids start here, clear of helper ids (`call N` with src 0). */
export const KFUNC_BTF_ID_BASE = 100_000;

/**
 * The registry. Append only: a kfunc's id is its place here. Kernel objects bpfbox has none of
 * (tasks, keys) verify as the kernel verifies them; at run time their lookups give NULL.
 */
const TABLE: readonly Omit<KfuncDef, 'id'>[] = [
  // kernel/bpf/helpers.c, common_btf_ids (BPF_PROG_TYPE_UNSPEC: every type)
  { name: 'bpf_iter_num_new', args: ['iter_uninit', 'scalar', 'scalar'], ret: 'int', flags: KF.KF_ITER_NEW, set: 'common', iter: 'num' },
  { name: 'bpf_iter_num_next', args: ['iter'], ret: 'iter_next', flags: KF.KF_ITER_NEXT | KF.KF_RET_NULL, set: 'common', iter: 'num' },
  { name: 'bpf_iter_num_destroy', args: ['iter'], ret: 'void', flags: KF.KF_ITER_DESTROY, set: 'common', iter: 'num' },
  { name: 'bpf_dynptr_slice', args: ['dynptr', 'scalar', 'buf_opt', 'szk'], ret: 'slice', flags: KF.KF_RET_NULL, set: 'common' },
  { name: 'bpf_dynptr_slice_rdwr', args: ['dynptr', 'scalar', 'buf_opt', 'szk'], ret: 'slice_rdwr', flags: KF.KF_RET_NULL, set: 'common' },
  // net/core/filter.c, bpf_kfunc_check_set_xdp / _skb
  { name: 'bpf_dynptr_from_xdp', args: ['ctx', 'scalar', 'dynptr_uninit'], ret: 'int', flags: 0, set: 'xdp', dynptr: 'xdp' },
  { name: 'bpf_dynptr_from_skb', args: ['ctx', 'scalar', 'dynptr_uninit'], ret: 'int', flags: 0, set: 'skb', dynptr: 'skb' },
  // kernel/bpf/helpers.c, common_btf_ids
  { name: 'bpf_cast_to_kern_ctx', args: ['ctx'], ret: 'kern_ctx', flags: KF_FASTCALL, set: 'common' },
  { name: 'bpf_rdonly_cast', args: ['ign', 'k'], ret: 'untrusted', flags: KF_FASTCALL, set: 'common' },
  { name: 'bpf_iter_bits_new', args: ['iter_uninit', 'ign', 'scalar'], ret: 'int', flags: KF.KF_ITER_NEW, set: 'common', iter: 'bits' },
  { name: 'bpf_iter_bits_next', args: ['iter'], ret: 'iter_next', flags: KF.KF_ITER_NEXT | KF_RET_NULL, set: 'common', iter: 'bits' },
  { name: 'bpf_iter_bits_destroy', args: ['iter'], ret: 'void', flags: KF.KF_ITER_DESTROY, set: 'common', iter: 'bits' },
  // kernel/bpf/helpers.c, generic_btf_ids
  { name: 'bpf_task_from_pid', args: ['scalar'], ret: 'btf', flags: KF_ACQUIRE | KF_RET_NULL, set: 'generic', btf: TASK },
  { name: 'bpf_task_release', args: ['release'], ret: 'void', flags: KF_RELEASE, set: 'generic', btf: TASK },
  // kernel/trace/bpf_trace.c, key_sig_kfunc_set
  {
    name: 'bpf_lookup_user_key',
    args: ['scalar', 'scalar'],
    ret: 'btf',
    flags: KF_ACQUIRE | KF_RET_NULL | KF_SLEEPABLE,
    set: 'tracing',
    btf: KEY,
  },
  { name: 'bpf_lookup_system_key', args: ['scalar'], ret: 'btf', flags: KF_ACQUIRE | KF_RET_NULL, set: 'tracing', btf: KEY },
  { name: 'bpf_key_put', args: ['release'], ret: 'void', flags: KF_RELEASE, set: 'tracing', btf: KEY },
  // net/netfilter/nf_conntrack_bpf.c, nf_ct_kfunc_set (XDP and TC)
  {
    name: 'bpf_xdp_ct_lookup',
    args: ['ctx', 'mem', 'sz', 'mem', 'sz'],
    ret: 'btf',
    flags: KF_ACQUIRE | KF_RET_NULL,
    set: 'ct',
    btf: NF_CONN,
    ctxOf: P.BPF_PROG_TYPE_XDP,
  },
  {
    name: 'bpf_skb_ct_lookup',
    args: ['ctx', 'mem', 'sz', 'mem', 'sz'],
    ret: 'btf',
    flags: KF_ACQUIRE | KF_RET_NULL,
    set: 'ct',
    btf: NF_CONN,
    ctxOf: P.BPF_PROG_TYPE_SCHED_CLS,
  },
  { name: 'bpf_ct_release', args: ['release'], ret: 'void', flags: KF_RELEASE, set: 'ct', btf: NF_CONN },
];

/** KFUNCS: the registry, with bpfbox's ids. */
export const KFUNCS: readonly KfuncDef[] = TABLE.map((k, i) => ({ ...k, id: KFUNC_BTF_ID_BASE + i + 1 }));
const BY_ID = new Map(KFUNCS.map((k) => [k.id, k]));
const BY_NAME = new Map(KFUNCS.map((k) => [k.name, k]));

/** kfuncByName / kfuncById: a kfunc of the registry. */
export const kfuncByName = (name: string): KfuncDef | undefined => BY_NAME.get(name);
export const kfuncById = (id: number): KfuncDef | undefined => BY_ID.get(id);

/**
 * BTF_KFUNC_HOOK_TRACING's program types as of 6.18 (kernel/bpf/btf.c's
 * bpf_prog_type_to_kfunc_hook; tracepoint and perf_event joined tracing and lsm in 6.13).
 */
const TRACING_HOOK = [P.BPF_PROG_TYPE_TRACING, P.BPF_PROG_TYPE_LSM, P.BPF_PROG_TYPE_TRACEPOINT, P.BPF_PROG_TYPE_PERF_EVENT];

/**
 * The program types each set is registered for (filter.c: xdp for XDP; skb for the skb-based
 * types; helpers.c's kfunc_init: generic for the tracing, TC (sched_cls only), XDP, struct_ops,
 * syscall and cgroup hooks).
 */
const SET_TYPES: Readonly<Record<KfuncSet, readonly number[] | 'all'>> = {
  common: 'all',
  generic: [
    ...TRACING_HOOK,
    P.BPF_PROG_TYPE_SCHED_CLS,
    P.BPF_PROG_TYPE_XDP,
    P.BPF_PROG_TYPE_STRUCT_OPS,
    P.BPF_PROG_TYPE_SYSCALL,
    P.BPF_PROG_TYPE_CGROUP_SKB,
    P.BPF_PROG_TYPE_CGROUP_SOCK,
    P.BPF_PROG_TYPE_CGROUP_DEVICE,
    P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
    P.BPF_PROG_TYPE_CGROUP_SOCKOPT,
    P.BPF_PROG_TYPE_CGROUP_SYSCTL,
  ],
  tracing: TRACING_HOOK,
  ct: [P.BPF_PROG_TYPE_XDP, P.BPF_PROG_TYPE_SCHED_CLS],
  xdp: [P.BPF_PROG_TYPE_XDP],
  skb: [
    P.BPF_PROG_TYPE_SCHED_CLS,
    P.BPF_PROG_TYPE_SCHED_ACT,
    P.BPF_PROG_TYPE_SK_SKB,
    P.BPF_PROG_TYPE_SOCKET_FILTER,
    P.BPF_PROG_TYPE_CGROUP_SKB,
    P.BPF_PROG_TYPE_LWT_OUT,
    P.BPF_PROG_TYPE_LWT_IN,
    P.BPF_PROG_TYPE_LWT_XMIT,
    P.BPF_PROG_TYPE_LWT_SEG6LOCAL,
    P.BPF_PROG_TYPE_NETFILTER,
    ...TRACING_HOOK,
  ],
};

/** kfuncAllowed: the kfunc is registered for the program type (fetch_kfunc_meta's btf_kfunc_id_set_contains). */
export function kfuncAllowed(k: KfuncDef, progType: number): boolean {
  const types = SET_TYPES[k.set];
  return types === 'all' || types.includes(progType);
}

/**
 * checkKfuncStatic: the checks add_kfunc_call makes of every kfunc call, reached or not (that
 * the program type may call it is checked only where the call is reached: fetch_kfunc_meta).
 */
export function checkKfuncStatic(id: number): void {
  if (id === 0) return; // an unresolved weak kfunc: refused only if reached
  if (!kfuncById(id)) return refuse(`kernel btf_id ${id} is not a function`, EINVAL);
}

/** The stack pointer a dynptr or iterator argument must be: constant offset, inside the frame. */
function stackArg(vs: VState, r: number, size: number, what: string): { frame: number; spi: number } {
  const p = cur(vs).regs[r];
  if (p.k !== 'stack')
    return refuse(
      what.startsWith('iter_')
        ? `arg#${r - 1} expected pointer to an iterator on stack`
        : `arg#${r - 1} expected pointer to stack or const struct bpf_dynptr`,
      EINVAL,
    );
  if (p.off % 8 !== 0) return refuse(`arg#${r - 1} expected ${what} at an 8-byte aligned stack offset, got off=${p.off}`, EINVAL);
  if (p.off + size > 0 || p.off < -512) return refuse(`invalid write to stack R${r} off=${p.off} size=${size}`, EACCES);
  return { frame: p.frame, spi: (-p.off - 1) >> 3 };
}

const EACCES = 13;

/** iterSlots: the stack slots an iterator at slot `spi` covers (its first, then the ones below). */
const iterSlots = (spi: number, type: IterType): number[] => Array.from({ length: ITER_SIZE[type] / 8 }, (_, i) => spi - i);

/**
 * checkKfuncCall: a reached kfunc call (check_kfunc_call): each argument against the
 * prototype, the iterator and dynptr stack slots it makes, moves or ends, then r0 and the
 * scratch registers. Returns whether the call is an iterator's next (the walk forks there).
 */
export function checkKfuncCall(vs: VState, id: number, env: Env, slot: number): void {
  if (id === 0) return refuse('invalid kernel function call not eliminated in verifier pass', EINVAL);
  const k = kfuncById(id);
  if (!k) return refuse(`kernel btf_id ${id} is not a function`, EINVAL);
  if (!kfuncAllowed(k, env.progType)) return refuse(`calling kernel function ${k.name} is not allowed`, EACCES);
  // bpfbox does not model sleepable programs (lsm.s, fentry.s, syscall): a sleepable kfunc is refused
  // as the kernel refuses it in a program that is not (a false refusal for a sleepable one, never an unsafe accept)
  if (k.flags & KF_SLEEPABLE) return refuse(`program must be sleepable to call sleepable kfunc ${k.name}`, EACCES);
  const f = cur(vs);
  let dynptrKind: DynptrType | undefined;
  let dynptrId: number | undefined;
  let dynptrRef = 0;
  let size = 0;
  let released: number | undefined;
  k.args.forEach((a, n) => {
    const r = n + 1;
    read(vs, r);
    const v = f.regs[r];
    switch (a) {
      case 'scalar':
        if (v.k !== 'scalar') return refuse(`R${r} is not a scalar`, EINVAL);
        return;
      case 'ctx':
        if (v.k !== 'ctx') return refuse(`arg#${n} expected pointer to ctx, but got ${kindName(v)}`, EINVAL);
        if (v.off !== 0) return refuse(`dereference of modified ctx ptr R${r} off=${v.off} disallowed`, EACCES);
        // btf_is_prog_ctx_type: a kfunc for another type's context takes no context of this one
        if (k.ctxOf !== undefined && k.ctxOf !== env.progType) return refuse(`arg#${n} expected pointer to btf or socket, got ctx`, EINVAL);
        return;
      case 'iter_uninit': {
        // is_iter_reg_valid_uninit: none of the iterator's slots holds an iterator or a dynptr
        const type = k.iter!;
        const { frame, spi } = stackArg(vs, r, ITER_SIZE[type], `iter_${type}`);
        const st = vs.frames[frame].stack;
        const spis = iterSlots(spi, type);
        for (const i of spis) {
          const s = st[i];
          if (s.k === 'spill' && (s.reg.k === 'iter' || s.reg.k === 'dynptr'))
            refuse(`expected uninitialized iter_${type} as arg #${n}`, EINVAL);
        }
        const ref = env.nextId();
        vs.refs.set(ref, slot);
        for (const i of spis) {
          st[i] = { k: 'spill', reg: { k: 'iter', type, ref, state: 'active', depth: 0 }, size: 8 };
          env.slots.write(frame, i);
        }
        return;
      }
      case 'iter': {
        // is_iter_reg_valid_init: every slot holds this type's iterator, with one reference
        const type = k.iter!;
        const { frame, spi } = stackArg(vs, r, ITER_SIZE[type], `iter_${type}`);
        const st = vs.frames[frame].stack;
        const spis = iterSlots(spi, type);
        spis.forEach((i) => env.slots.read(frame, i));
        const s = st[spi];
        const ok =
          s.k === 'spill' &&
          s.reg.k === 'iter' &&
          s.reg.type === type &&
          spis.every((i) => {
            const o = st[i];
            return o.k === 'spill' && o.reg.k === 'iter' && s.reg.k === 'iter' && o.reg.ref === s.reg.ref;
          });
        if (!ok || s.k !== 'spill' || s.reg.k !== 'iter') return refuse(`expected an initialized iter_${type} as arg #${n}`, EINVAL);
        if (k.flags & KF.KF_ITER_DESTROY) {
          vs.refs.delete(s.reg.ref);
          for (const i of spis) st[i] = { k: 'invalid' };
        }
        return;
      }
      case 'ign':
      case 'sz':
        return;
      case 'mem': {
        // KF_ARG_PTR_TO_MEM_SIZE: the memory, read and written, for every size the next register may hold
        const szReg = f.regs[r + 1];
        read(vs, r + 1);
        if (szReg.k !== 'scalar') return refuse(`R${r + 1} is not a scalar`, EINVAL);
        if (szReg.s.smin < 0n) return refuse(`R${r + 1} min value is negative, either use unsigned or 'var &= const'`, EACCES);
        if (szReg.s.umax >= 1n << 29n) return refuse(`R${r + 1} unbounded memory access, use 'var &= const' or 'if (var < const)'`, EACCES);
        env.demand(1 << (r + 1));
        helperMemory(vs, v, r, szReg.s, true, env);
        return;
      }
      case 'k':
        // `__k`: a constant the kernel reads at verification time (for bpf_rdonly_cast, a BTF type id)
        if (v.k !== 'scalar' || !isConstScalar(v.s)) return refuse(`R${r} must be a known constant`, EINVAL);
        env.demand(1 << r);
        return;
      case 'release': {
        // KF_RELEASE: the referenced object itself (check_kfunc_args, release_reference)
        const want = k.btf!.name;
        if (v.k === 'mem_or_null' && v.btf === want) return refuse(`Possibly NULL pointer passed to trusted arg${n}`, EACCES);
        if (v.k === 'scalar') return refuse(`arg#${n} pointer type STRUCT ${want} must point to scalar, or struct with scalar`, EINVAL);
        if (v.k !== 'mem' || v.btf !== want)
          return refuse(`arg#${n} expected pointer to btf or socket, got ${kindName(v)} (${want} expected)`, EINVAL);
        if (v.off !== 0 || v.var.umax !== 0n)
          return refuse(`R${r} must have zero offset when passed to release func or trusted arg to kfunc`, EACCES);
        if (!v.ref) return refuse(`release kernel function ${k.name} expects refcounted PTR_TO_BTF_ID`, EINVAL);
        released = v.ref;
        return;
      }
      case 'dynptr_uninit': {
        // the same slots as the helpers' dynptrs (dynptr.ts); stackArg keeps the kfuncs' messages
        stackArg(vs, r, 16, 'dynptr');
        return void markDynptr(vs, r, dynptrSpi(vs, r), k.dynptr!, env, slot);
      }
      case 'dynptr': {
        stackArg(vs, r, 16, 'dynptr');
        const d = dynptrArg(vs, r, env);
        dynptrKind = d.type;
        dynptrId = d.id;
        dynptrRef = d.ref;
        return;
      }
      case 'buf_opt': {
        const szReg = f.regs[r + 1];
        if (v.k === 'scalar' && isConstScalar(v.s) && v.s.umax === 0n) return;
        if (szReg.k !== 'scalar') return refuse(`R${r + 1} is not a scalar`, EINVAL);
        helperMemory(vs, v, r, szReg.s, true, env);
        return;
      }
      case 'szk':
        if (v.k !== 'scalar' || !isConstScalar(v.s)) return refuse(`R${r} must be a known constant`, EINVAL);
        env.demand(1 << r);
        size = Number(v.s.umax);
        return;
    }
  });
  // r0 and the scratch registers; a released object's copies become unknown numbers (release_reference)
  for (let r = 1; r <= 5; r++) f.regs[r] = NONE;
  if (released !== undefined) {
    const gone = released;
    vs.refs.delete(gone);
    mapRegs(vs, (r) => ((r.k === 'mem' || r.k === 'mem_or_null') && r.ref === gone ? unknownScalar : r));
  }
  let r0: Reg;
  switch (k.ret) {
    case 'void':
      r0 = NONE;
      break;
    case 'int':
      r0 = unknownScalar;
      break;
    case 'iter_next':
      // the drained path (r0 NULL); the walk queues the active one (process_iter_next_call)
      r0 = { k: 'scalar', s: scalarConst(0n) };
      break;
    case 'slice':
    case 'slice_rdwr': {
      // a writable slice, of any dynptr, only where the program may write packets (may_access_direct_pkt_data, BPF_WRITE)
      if (k.ret === 'slice_rdwr' && !env.ops.directPacketWrite) return refuse('the prog does not allow writes to packet data', EINVAL);
      if (k.ret === 'slice_rdwr') env.effects.writesPacket = true;
      // tied to its dynptr (dynptr_id); a packet dynptr's slice dies where packet pointers do
      const pktSlice = dynptrKind === 'skb' || dynptrKind === 'xdp';
      r0 = {
        k: 'mem_or_null',
        size,
        off: 0,
        ref: dynptrRef,
        id: env.nextId(),
        rdonly: k.ret === 'slice',
        dynptr: dynptrId,
        ...(pktSlice ? { pktSlice } : {}),
      };
      break;
    }
    case 'kern_ctx': {
      // get_kern_ctx_btf_id: the type's kernel context struct, a trusted pointer (read-only here)
      const kctx = KERN_CTX[env.progType];
      if (!kctx) return refuse(`kern ctx type id of program type ${env.progType} is not a struct`, EINVAL);
      r0 = { k: 'mem', size: kctx.size, off: 0, ref: 0, var: scalarConst(0n), rdonly: true, btf: kctx.name };
      break;
    }
    case 'untrusted':
      // PTR_TO_BTF_ID | PTR_UNTRUSTED of a kernel type bpfbox has no BTF for: nothing in it is readable here
      r0 = { k: 'mem', size: 0, off: 0, ref: 0, var: scalarConst(0n), rdonly: true, btf: 'untrusted' };
      break;
    case 'btf': {
      // KF_ACQUIRE | KF_RET_NULL: a reference to release, whose id is also the NULL check's (check_kfunc_call)
      const ref = env.nextId();
      vs.refs.set(ref, slot);
      r0 = { k: 'mem_or_null', size: k.btf!.size, off: 0, ref, id: ref, rdonly: true, btf: k.btf!.name };
      break;
    }
  }
  f.regs[0] = r0;
}

/** isIterNext: the kfunc is an iterator's next method (is_iter_next_insn). */
export const isIterNext = (id: number): boolean => !!((kfuncById(id)?.flags ?? 0) & KF.KF_ITER_NEXT);

/**
 * iterNextActive: the state of the path where the iterator has another element: a copy of the
 * state before the call where r0 points at the element (4 bytes) and the iterator is one deeper.
 * `before` is the state before checkKfuncCall ran; returns undefined when the iterator is drained.
 */
export function iterNextActive(before: VState, env: Env): VState | undefined {
  const f = cur(before);
  const p = f.regs[1];
  if (p.k !== 'stack') return undefined;
  const spi = (-p.off - 1) >> 3;
  const s = before.frames[p.frame].stack[spi];
  if (s.k !== 'spill' || s.reg.k !== 'iter' || s.reg.state !== 'active') return undefined;
  before.frames[p.frame].stack[spi] = { k: 'spill', reg: { ...s.reg, depth: s.reg.depth + 1 }, size: 8 };
  for (let r = 1; r <= 5; r++) f.regs[r] = NONE;
  f.regs[0] = { k: 'mem', size: 4, off: 0, ref: 0, var: scalarConst(0n), rdonly: false };
  void env;
  return before;
}

/** iterDrain: after the drained path's call, its iterator is drained (state `drained`, depth kept). */
export function iterDrain(vs: VState, iterPtr: Reg): void {
  if (iterPtr.k !== 'stack') return;
  const spi = (-iterPtr.off - 1) >> 3;
  const s = vs.frames[iterPtr.frame].stack[spi];
  if (s.k === 'spill' && s.reg.k === 'iter') vs.frames[iterPtr.frame].stack[spi] = { ...s, reg: { ...s.reg, state: 'drained' } };
}

/** iterActiveAt: the iterator r1 points at is active (the loop-convergence check at an iterator's next). */
export function iterActiveAt(vs: VState): boolean {
  const p = cur(vs).regs[1];
  if (p.k !== 'stack') return false;
  const s = vs.frames[p.frame].stack[(-p.off - 1) >> 3];
  return s.k === 'spill' && s.reg.k === 'iter' && s.reg.state === 'active';
}

/**
 * widenImprecise: the kernel's widen_imprecise_scalars: a scalar neither precise in `old` (the
 * state one loop pass before) nor in `cur`, with another value in `cur`, becomes unknown in
 * `cur`, so that an iterator loop's states converge instead of counting up pass after pass.
 */
export function widenImprecise(old: VState, cur: VState): void {
  const widen = (o: Reg, c: Reg): Reg =>
    o.k === 'scalar' && c.k === 'scalar' && !o.precise && !c.precise && !sameScalar(o.s, c.s) ? unknownScalar : c;
  for (let f = Math.min(old.frames.length, cur.frames.length) - 1; f >= 0; f--) {
    const fo = old.frames[f];
    const fc = cur.frames[f];
    for (let r = 0; r <= 10; r++) fc.regs[r] = widen(fo.regs[r], fc.regs[r]);
    fc.stack.forEach((s, i) => {
      const so = fo.stack[i];
      if (s.k === 'spill' && so.k === 'spill') fc.stack[i] = { ...s, reg: widen(so.reg, s.reg) };
    });
  }
}
