import { ProgType as P } from '../../uapi/progType.js';
import { helperMemory } from './memory.js';
import type { Env } from './memory.js';
import { EINVAL, refuse } from './refuse.js';
import { sameScalar } from './prune.js';
import { isConstScalar, scalarConst } from './scalar.js';
import { NONE, type Reg, type VState, kindName, unknownScalar } from './state.js';
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
} as const;

/**
 * KfuncArg: the argument kinds of the kfuncs bpfbox implements (the kernel's KF_ARG_PTR_TO_*
 * as their names and types select them): iter_uninit/iter a `struct bpf_iter_num *` on the
 * stack before or after its constructor, dynptr_uninit/dynptr a `struct bpf_dynptr *` (the
 * `__uninit` suffix) on the stack, ctx the program's context, buf_opt a buffer that may be
 * NULL sized by the next argument, szk that size (`__szk`: a constant), scalar any number.
 */
export type KfuncArg = 'iter_uninit' | 'iter' | 'dynptr_uninit' | 'dynptr' | 'ctx' | 'buf_opt' | 'szk' | 'scalar';

/** KfuncRet: int/void; iter_next `int *` (4 bytes, NULL when drained); slice/slice_rdwr the dynptr's bytes, `szk` long. */
export type KfuncRet = 'int' | 'void' | 'iter_next' | 'slice' | 'slice_rdwr';

/** KfuncSet: the program types a kfunc set is registered for (register_btf_kfunc_id_set). */
type KfuncSet = 'common' | 'xdp' | 'skb';

export interface KfuncDef {
  readonly id: number;
  readonly name: string;
  readonly args: readonly KfuncArg[];
  readonly ret: KfuncRet;
  readonly flags: number;
  readonly set: KfuncSet;
  /** A dynptr constructor: the kind of dynptr it makes (dynptr_xdp, dynptr_skb). */
  readonly dynptr?: 'xdp' | 'skb';
}

/** KFUNC_BTF_ID_BASE: bpfbox's kfunc ids start here, clear of helper ids (`call N` with src 0). */
export const KFUNC_BTF_ID_BASE = 100_000;

const TABLE: readonly Omit<KfuncDef, 'id'>[] = [
  // kernel/bpf/helpers.c, common_btf_ids (BPF_PROG_TYPE_UNSPEC: every type)
  { name: 'bpf_iter_num_new', args: ['iter_uninit', 'scalar', 'scalar'], ret: 'int', flags: KF.KF_ITER_NEW, set: 'common' },
  { name: 'bpf_iter_num_next', args: ['iter'], ret: 'iter_next', flags: KF.KF_ITER_NEXT | KF.KF_RET_NULL, set: 'common' },
  { name: 'bpf_iter_num_destroy', args: ['iter'], ret: 'void', flags: KF.KF_ITER_DESTROY, set: 'common' },
  { name: 'bpf_dynptr_slice', args: ['dynptr', 'scalar', 'buf_opt', 'szk'], ret: 'slice', flags: KF.KF_RET_NULL, set: 'common' },
  { name: 'bpf_dynptr_slice_rdwr', args: ['dynptr', 'scalar', 'buf_opt', 'szk'], ret: 'slice_rdwr', flags: KF.KF_RET_NULL, set: 'common' },
  // net/core/filter.c, bpf_kfunc_check_set_xdp / _skb
  { name: 'bpf_dynptr_from_xdp', args: ['ctx', 'scalar', 'dynptr_uninit'], ret: 'int', flags: 0, set: 'xdp', dynptr: 'xdp' },
  { name: 'bpf_dynptr_from_skb', args: ['ctx', 'scalar', 'dynptr_uninit'], ret: 'int', flags: 0, set: 'skb', dynptr: 'skb' },
];

/** KFUNCS: the registry, with bpfbox's ids. */
export const KFUNCS: readonly KfuncDef[] = TABLE.map((k, i) => ({ ...k, id: KFUNC_BTF_ID_BASE + i + 1 }));
const BY_ID = new Map(KFUNCS.map((k) => [k.id, k]));
const BY_NAME = new Map(KFUNCS.map((k) => [k.name, k]));

/** kfuncByName / kfuncById: a kfunc of the registry. */
export const kfuncByName = (name: string): KfuncDef | undefined => BY_NAME.get(name);
export const kfuncById = (id: number): KfuncDef | undefined => BY_ID.get(id);

/** The program types each set is registered for (filter.c: xdp for XDP; skb for the skb-based types). */
const SET_TYPES: Readonly<Record<KfuncSet, readonly number[] | 'all'>> = {
  common: 'all',
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
  ],
};

/** kfuncAllowed: the kfunc is registered for the program type (fetch_kfunc_meta's btf_kfunc_id_set_contains). */
export function kfuncAllowed(k: KfuncDef, progType: number): boolean {
  const types = SET_TYPES[k.set];
  return types === 'all' || types.includes(progType);
}

/** checkKfuncStatic: the checks add_kfunc_call makes of every kfunc call, reached or not. */
export function checkKfuncStatic(id: number, progType: number): void {
  if (id === 0) return; // an unresolved weak kfunc: refused only if reached
  const k = kfuncById(id);
  if (!k) return refuse(`kernel btf_id ${id} is not a function`, EINVAL);
  if (!kfuncAllowed(k, progType)) return refuse(`calling kernel function ${k.name} is not allowed`, EINVAL);
}

/** The stack pointer a dynptr or iterator argument must be: constant offset, inside the frame. */
function stackArg(vs: VState, r: number, size: number, what: string): { frame: number; spi: number } {
  const p = cur(vs).regs[r];
  if (p.k !== 'stack')
    return refuse(
      what === 'iter_num'
        ? `arg#${r - 1} expected pointer to an iterator on stack`
        : `arg#${r - 1} expected pointer to stack or const struct bpf_dynptr`,
      EINVAL,
    );
  if (p.off % 8 !== 0) return refuse(`arg#${r - 1} expected ${what} at an 8-byte aligned stack offset, got off=${p.off}`, EINVAL);
  if (p.off + size > 0 || p.off < -512) return refuse(`invalid write to stack R${r} off=${p.off} size=${size}`, EACCES);
  return { frame: p.frame, spi: (-p.off - 1) >> 3 };
}

const EACCES = 13;

/**
 * checkKfuncCall: a reached kfunc call (check_kfunc_call): each argument against the
 * prototype, the iterator and dynptr stack slots it makes, moves or ends, then r0 and the
 * scratch registers. Returns whether the call is an iterator's next (the walk forks there).
 */
export function checkKfuncCall(vs: VState, id: number, env: Env, slot: number): void {
  if (id === 0) return refuse('invalid kernel function call not eliminated in verifier pass', EINVAL);
  const k = kfuncById(id);
  if (!k) return refuse(`kernel btf_id ${id} is not a function`, EINVAL);
  if (!kfuncAllowed(k, env.progType)) return refuse(`calling kernel function ${k.name} is not allowed`, EINVAL);
  const f = cur(vs);
  let dynptrKind: 'xdp' | 'skb' | undefined;
  let size = 0;
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
        return;
      case 'iter_uninit': {
        const { frame, spi } = stackArg(vs, r, 8, 'iter_num');
        const s = vs.frames[frame].stack[spi];
        if (s.k === 'spill' && (s.reg.k === 'iter' || s.reg.k === 'dynptr')) refuse(`expected uninitialized iter_num as arg #${n}`, EINVAL);
        const ref = env.nextId();
        vs.refs.set(ref, slot);
        vs.frames[frame].stack[spi] = { k: 'spill', reg: { k: 'iter', ref, state: 'active', depth: 0 }, size: 8 };
        env.slots.write(frame, spi);
        return;
      }
      case 'iter': {
        const { frame, spi } = stackArg(vs, r, 8, 'iter_num');
        const s = vs.frames[frame].stack[spi];
        env.slots.read(frame, spi);
        if (s.k !== 'spill' || s.reg.k !== 'iter') return refuse(`expected an initialized iter_num as arg #${n}`, EINVAL);
        if (k.flags & KF.KF_ITER_DESTROY) {
          vs.refs.delete(s.reg.ref);
          vs.frames[frame].stack[spi] = { k: 'invalid' };
        }
        return;
      }
      case 'dynptr_uninit': {
        const { frame, spi } = stackArg(vs, r, 16, 'dynptr');
        const st = vs.frames[frame].stack;
        for (const i of [spi, spi - 1]) {
          const s = st[i];
          if (s.k === 'spill' && s.reg.k === 'iter') return refuse(`Dynptr has to be an uninitialized dynptr`, EINVAL);
        }
        const dynId = env.nextId();
        st[spi] = { k: 'spill', reg: { k: 'dynptr', type: k.dynptr!, id: dynId, first: true }, size: 8 };
        st[spi - 1] = { k: 'spill', reg: { k: 'dynptr', type: k.dynptr!, id: dynId, first: false }, size: 8 };
        env.slots.write(frame, spi);
        env.slots.write(frame, spi - 1);
        return;
      }
      case 'dynptr': {
        const { frame, spi } = stackArg(vs, r, 16, 'dynptr');
        const st = vs.frames[frame].stack;
        env.slots.read(frame, spi);
        env.slots.read(frame, spi - 1);
        const a0 = st[spi];
        const a1 = st[spi - 1];
        if (
          a0.k !== 'spill' ||
          a0.reg.k !== 'dynptr' ||
          !a0.reg.first ||
          a1.k !== 'spill' ||
          a1.reg.k !== 'dynptr' ||
          a1.reg.id !== a0.reg.id
        )
          return refuse(`Expected an initialized dynptr as arg #${n}`, EINVAL);
        dynptrKind = a0.reg.type;
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
  // r0 and the scratch registers
  for (let r = 1; r <= 5; r++) f.regs[r] = NONE;
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
      if (k.ret === 'slice_rdwr') env.effects.writesPacket = true;
      void dynptrKind;
      r0 = { k: 'mem_or_null', size, off: 0, ref: 0, id: env.nextId(), rdonly: k.ret === 'slice' };
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
