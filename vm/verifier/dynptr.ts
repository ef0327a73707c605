import { type Env, store } from './memory.js';
import { EINVAL, refuse, unsupported } from './refuse.js';
import { isConstScalar } from './scalar.js';
import { type DynptrType, type Reg, type VState, mapRegs, unknownScalar } from './state.js';
import { cur } from './step.js';

/**
 * dynptr: the stack slots of a dynptr (STACK_DYNPTR, kernel/bpf/verifier.c), one representation
 * for the helpers' (bpf_dynptr_from_mem: local, bpf_ringbuf_reserve_dynptr: ringbuf) and the
 * kfuncs' (bpf_dynptr_from_xdp / _skb). A dynptr is two 8-byte slots, `spi` (the lower, `first`)
 * and `spi - 1`, holding the dynptr's id; a ring buffer dynptr also holds the reference its
 * reserve took (`ref`, dynptr_type_refcounted), which submit or discard must release.
 */

/** DynptrAt: an initialised dynptr an argument points at. */
export interface DynptrAt {
  readonly frame: number;
  readonly spi: number;
  readonly id: number;
  readonly ref: number;
  readonly type: DynptrType;
}

const EACCES = 13;

/**
 * dynptrSpi: dynptr_get_spi: the slot a stack pointer argument names: at a constant offset,
 * 8-byte aligned, with both slots inside the frame.
 */
export function dynptrSpi(vs: VState, r: number): { frame: number; spi: number } {
  const p = cur(vs).regs[r];
  if (p.k !== 'stack') return refuse(`arg#${r - 1} expected pointer to stack or const struct bpf_dynptr`, EINVAL);
  if (p.var && !isConstScalar(p.var)) return refuse('dynptr has to be at a constant offset', EINVAL);
  if (p.var && p.var.umax !== 0n) return unsupported('a dynptr at a stack pointer with a constant variable part');
  if (p.off % 8 !== 0 || p.off > -16) return refuse(`cannot pass in dynptr at an offset=${p.off}`, EINVAL);
  if (p.off < -512) return refuse(`invalid write to stack R${r} off=${p.off} size=16`, EACCES);
  return { frame: p.frame, spi: (-p.off - 1) >> 3 };
}

/** killSlices: the slices of a dynptr (dynptr_id) or of a reference (ref_obj_id) become unknown numbers (mark_reg_invalid, privileged). */
function killSlices(vs: VState, dies: (r: Reg & { k: 'mem' | 'mem_or_null' }) => boolean): void {
  mapRegs(vs, (r) => ((r.k === 'mem' || r.k === 'mem_or_null') && dies(r) ? unknownScalar : r));
}

/**
 * destroyDynptrSlot: destroy_if_dynptr_stack_slot: a write over either slot of a dynptr
 * destroys it whole, and its slices; a referenced (ring buffer) one may not be overwritten.
 */
export function destroyDynptrSlot(vs: VState, frame: number, spi: number, env: Env): void {
  const st = vs.frames[frame].stack;
  const s = st[spi];
  if (!s || s.k !== 'spill' || s.reg.k !== 'dynptr') return;
  const first = s.reg.first ? spi : spi + 1;
  if (s.reg.ref) return refuse('cannot overwrite referenced dynptr', EINVAL);
  const id = s.reg.id;
  for (const i of [first, first - 1]) {
    const o = st[i];
    if (o && o.k === 'spill' && o.reg.k === 'dynptr' && o.reg.id === id) {
      st[i] = { k: 'invalid' };
      env.slots.write(frame, i);
    }
  }
  killSlices(vs, (r) => r.dynptr === id);
}

/**
 * markDynptr: mark_stack_slots_dynptr: the slots at `spi` become a new dynptr of `type`
 * through the pointer in `r` (destroying any dynptr there before); a ring buffer one takes a
 * reference at `insn`.
 * Returns the dynptr's id.
 */
export function markDynptr(vs: VState, r: number, at: { frame: number; spi: number }, type: DynptrType, env: Env, insn: number): number {
  const { frame, spi } = at;
  const st = vs.frames[frame].stack;
  for (const i of [spi, spi - 1]) {
    const s = st[i];
    if (s.k === 'spill' && s.reg.k === 'iter') return refuse('Dynptr has to be an uninitialized dynptr', EINVAL);
  }
  // the 16 bytes are written (check_mem_access, BPF_DW twice): bounds, stack depth, a referenced dynptr there refused
  const p = cur(vs).regs[r];
  for (const off of [0, 8]) store(vs, p, r, off, 8, unknownScalar, env);
  destroyDynptrSlot(vs, frame, spi, env);
  destroyDynptrSlot(vs, frame, spi - 1, env);
  const id = env.nextId();
  let ref = 0;
  if (type === 'ringbuf') vs.refs.set((ref = env.nextId()), insn);
  st[spi] = { k: 'spill', reg: { k: 'dynptr', type, id, ref, first: true }, size: 8 };
  st[spi - 1] = { k: 'spill', reg: { k: 'dynptr', type, id, ref, first: false }, size: 8 };
  env.slots.write(frame, spi);
  env.slots.write(frame, spi - 1);
  return id;
}

/**
 * dynptrArg: is_dynptr_reg_valid_init and is_dynptr_type_expected: the argument in `r` (arg
 * #n) points at the first slot of an initialised dynptr, of type `want` if given.
 */
export function dynptrArg(vs: VState, r: number, env: Env, want?: DynptrType): DynptrAt {
  const { frame, spi } = dynptrSpi(vs, r);
  const st = vs.frames[frame].stack;
  env.slots.read(frame, spi);
  env.slots.read(frame, spi - 1);
  const a0 = st[spi];
  const a1 = st[spi - 1];
  if (a0.k !== 'spill' || a0.reg.k !== 'dynptr' || !a0.reg.first || a1.k !== 'spill' || a1.reg.k !== 'dynptr' || a1.reg.id !== a0.reg.id)
    return refuse(`Expected an initialized dynptr as arg #${r - 1}`, EINVAL);
  const d = a0.reg;
  if (want && d.type !== want) return refuse(`Expected a dynptr of type ${want} as arg #${r - 1}`, EINVAL);
  return { frame, spi, id: d.id, ref: d.ref, type: d.type };
}

/**
 * releaseDynptr: OBJ_RELEASE of a dynptr (unmark_stack_slots_dynptr): its reference is
 * released, the slices taken under it die, and its slots are no dynptr any more.
 */
export function releaseDynptr(vs: VState, r: number, env: Env): void {
  const { frame, spi } = dynptrSpi(vs, r);
  const s = vs.frames[frame].stack[spi];
  if (s.k !== 'spill' || s.reg.k !== 'dynptr' || !s.reg.ref) return refuse(`arg ${r} is an unacquired reference`, EINVAL);
  const at = dynptrArg(vs, r, env, 'ringbuf');
  vs.refs.delete(at.ref);
  killSlices(vs, (m) => m.ref === at.ref || m.dynptr === at.id);
  const st = vs.frames[frame].stack;
  st[spi] = { k: 'invalid' };
  st[spi - 1] = { k: 'invalid' };
  env.slots.write(frame, spi);
  env.slots.write(frame, spi - 1);
}

/** isDynptrSlot: the slot belongs to a dynptr (STACK_DYNPTR). */
export const isDynptrSlot = (vs: VState, frame: number, spi: number): boolean => {
  const s = vs.frames[frame].stack[spi];
  return !!s && s.k === 'spill' && s.reg.k === 'dynptr';
};
