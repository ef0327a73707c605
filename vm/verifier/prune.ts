import { type SlotMap, flowOf } from '../cfg.js';
import { Class, JmpOp, LDDW, Mode, Source, opClass } from '../opcodes.js';
import { type Scalar, UNKNOWN } from './scalar.js';
import * as T from './tnum.js';
import type { FrameState, Reg, StackSlot, VState } from './state.js';

/**
 * liveIn: for each slot, the registers (bit n for rN) some path from there reads before
 * writing them, within its function: a backward fixpoint over the flow graph. A helper or
 * bpf-to-bpf call reads r1-r5 and writes r0-r5; exit reads r0. State pruning ignores the
 * registers not live (the kernel's liveness marks, computed ahead of the walk here).
 */
export function liveIn(map: SlotMap): Uint16Array {
  const n = map.length;
  const use = new Uint16Array(n);
  const def = new Uint16Array(n);
  const next: number[][] = [];
  for (let s = 0; s < n; s++) {
    const i = map.at[s];
    next.push([]);
    if (!i) continue;
    next[s] = [...flowOf(map, s).next];
    const cls = opClass(i.opcode);
    const op = i.opcode & 0xf0;
    const x = (i.opcode & Source.BPF_X) !== 0;
    const d = 1 << i.dst;
    const src = 1 << i.src;
    switch (cls) {
      case Class.BPF_ALU:
      case Class.BPF_ALU64:
        use[s] = (op === 0xb0 ? 0 : d) | (x && op !== 0xd0 ? src : 0);
        def[s] = d;
        break;
      case Class.BPF_LDX:
        use[s] = src;
        def[s] = d;
        break;
      case Class.BPF_ST:
        use[s] = d;
        break;
      case Class.BPF_STX:
        use[s] = d | src | ((i.opcode & 0xe0) === Mode.BPF_ATOMIC && Number(i.imm) === 0xf1 ? 1 : 0);
        break;
      case Class.BPF_LD:
        if (i.opcode === LDDW) def[s] = d;
        else ((use[s] = (1 << 6) | ((i.opcode & 0xe0) === Mode.BPF_IND ? src : 0)), (def[s] = 0b111111));
        break;
      default:
        if (op === JmpOp.BPF_CALL) ((use[s] = 0b111110), (def[s] = 0b111111));
        else if (op === JmpOp.BPF_EXIT) use[s] = 1;
        else if (op !== JmpOp.BPF_JA && op !== JmpOp.BPF_JCOND) use[s] = d | (x ? src : 0); // may_goto reads no register
    }
  }
  const live = new Uint16Array(n);
  for (let changed = true; changed; ) {
    changed = false;
    for (let s = n - 1; s >= 0; s--) {
      let out = 0;
      for (const t of next[s]) out |= live[t];
      const v = use[s] | (out & ~def[s]) | (1 << 10);
      if (v !== live[s]) ((live[s] = v), (changed = true));
    }
  }
  return live;
}

/** within: every value `c` allows, `o` allows too (range_within and tnum_in). */
export function within(o: Scalar, c: Scalar): boolean {
  return (
    o.umin <= c.umin &&
    c.umax <= o.umax &&
    o.smin <= c.smin &&
    c.smax <= o.smax &&
    o.u32min <= c.u32min &&
    c.u32max <= o.u32max &&
    o.s32min <= c.s32min &&
    c.s32max <= o.s32max &&
    T.isSubset(o.var, c.var)
  );
}

/** sameScalar: the same bounds (regs_exact for scalars). */
export const sameScalar = (a: Scalar, b: Scalar): boolean => within(a, b) && within(b, a);

/** IdMap: ids of the old state matched to ids of the current one, consistently (check_ids). */
class IdMap {
  readonly #m = new Map<number, number>();
  readonly #back = new Map<number, number>();
  #tmp = TMP_IDS;
  /** A temporary id no register has (idmap->tmp_id_gen), for a current scalar with none. */
  tmp(): number {
    return ++this.#tmp;
  }
  match(o: number, c: number): boolean {
    const a = this.#m.get(o);
    const b = this.#back.get(c);
    if (a === undefined && b === undefined) {
      this.#m.set(o, c);
      this.#back.set(c, o);
      return true;
    }
    return a === c && b === o;
  }
}

/** Scalar ids with a constant added (BPF_ADD_CONST) are told from the plain ones by this bit; temporary ids start past both. */
const ADD_CONST = 2 ** 40;
const TMP_IDS = 2 ** 41;
const scalarIdKey = (r: { id?: number; delta?: number }): number => (r.id ?? 0) + (r.id && r.delta !== undefined ? ADD_CONST : 0);

/**
 * scalarIdsCover: regsafe's rules for the ids of a precise scalar (check_scalar_ids): an old scalar
 * with no id links nothing, so any current one will do; one with an id must map consistently
 * (a current scalar with none gets a temporary id of its own, so two linked old registers do not
 * match two unlinked current ones); a constant added (BPF_ADD_CONST) on one side only, or a
 * different constant, does not match; and a compound id maps its base id consistently too.
 */
function scalarIdsCover(o: { id?: number; delta?: number }, c: { id?: number; delta?: number }, ids: IdMap): boolean {
  if (!o.id) return true;
  const oAdd = o.delta !== undefined;
  const cAdd = !!c.id && c.delta !== undefined;
  if (oAdd !== cAdd || (oAdd && o.delta !== c.delta)) return false;
  if (!ids.match(scalarIdKey(o), c.id ? scalarIdKey(c) : ids.tmp())) return false;
  return !oAdd || ids.match(o.id, c.id!);
}

/** sameIds: check_ids for ids that may be absent (0): both absent, or both set and matched. */
function sameIds(o: number | undefined, c: number | undefined, ids: IdMap): boolean {
  if (!o || !c) return !o && !c;
  return ids.match(o, c);
}

/** regCovers: whatever a later path may do from `c`, it was checked from `o` (regsafe; `exact` for loop detection). */
function regCovers(o: Reg, c: Reg, ids: IdMap, exact: boolean, range = false): boolean {
  if (o.k === 'none') return !exact || c.k === 'none';
  if (o.k !== c.k) return false;
  switch (o.k) {
    // an imprecise scalar: no decision from the old state on looked at its value
    // (regs_exact also compares the ids and the constant added; a precise one, its links: scalarIdsCover)
    case 'scalar': {
      const cc = c as typeof o;
      if (exact) return sameScalar(o.s, cc.s) && o.delta === cc.delta && sameIds(scalarIdKey(o), scalarIdKey(cc), ids);
      return (!o.precise && !range) || (scalarIdsCover(o, cc, ids) && within(o.s, cc.s));
    }
    case 'ctx': {
      const cc = c as typeof o;
      return o.off === cc.off && !o.var === !cc.var && (!o.var || sameScalar(o.var, cc.var!));
    }
    case 'pkt_end':
      return o.off === (c as typeof o).off;
    // regs_exact: a variable part too
    case 'stack': {
      const cc = c as typeof o;
      return o.off === cc.off && o.frame === cc.frame && !o.var === !cc.var && (!o.var || sameScalar(o.var, cc.var!));
    }
    case 'func':
      return o.target === (c as typeof o).target;
    case 'map_ptr':
      return o.m === (c as typeof o).m && o.off === (c as typeof o).off;
    case 'map_value': {
      const cc = c as typeof o;
      return o.m === cc.m && o.off === cc.off && (exact ? sameScalar(o.var, cc.var) : within(o.var, cc.var)) && sameIds(o.id, cc.id, ids);
    }
    case 'map_value_or_null':
    case 'map_ptr_or_null': {
      const cc = c as typeof o;
      return o.m === cc.m && o.off === cc.off && ids.match(o.id, cc.id);
    }
    case 'pkt':
    case 'pkt_meta': {
      const cc = c as typeof o;
      return (
        o.off === cc.off &&
        (exact ? o.range === cc.range && sameScalar(o.var, cc.var) : cc.range >= o.range && within(o.var, cc.var)) &&
        ids.match(o.id, cc.id)
      );
    }
    case 'mem': {
      const cc = c as typeof o;
      return (
        !o.rdonly === !cc.rdonly &&
        o.btf === cc.btf &&
        o.size === cc.size &&
        o.off === cc.off &&
        (exact ? sameScalar(o.var, cc.var) : within(o.var, cc.var)) &&
        ids.match(-o.ref, -cc.ref) &&
        sameSlice(o, cc, ids)
      );
    }
    // an iterator's depth is not compared (it only tells loops apart): iter_active_depths_differ
    case 'iter': {
      const cc = c as typeof o;
      return o.type === cc.type && o.state === cc.state && ids.match(-o.ref, -cc.ref) && (!exact || o.depth === cc.depth);
    }
    case 'sock':
      return o.type === (c as typeof o).type && ids.match(-o.ref, -(c as typeof o).ref);
    case 'sock_or_null': {
      const cc = c as typeof o;
      return o.type === cc.type && ids.match(-o.ref, -cc.ref) && ids.match(o.id, cc.id);
    }
    case 'dynptr': {
      const cc = c as typeof o;
      return o.type === cc.type && o.first === cc.first && ids.match(o.id, cc.id) && ids.match(-o.ref, -cc.ref);
    }
    case 'mem_or_null': {
      const cc = c as typeof o;
      return (
        !o.rdonly === !cc.rdonly &&
        o.btf === cc.btf &&
        o.size === cc.size &&
        o.off === cc.off &&
        ids.match(-o.ref, -cc.ref) &&
        ids.match(o.id, cc.id) &&
        sameSlice(o, cc, ids)
      );
    }
  }
}

function slotCovers(o: StackSlot, c: StackSlot, ids: IdMap, exact: boolean, range = false): boolean {
  if (exact) {
    if (o.k !== c.k) return false;
    if (o.k === 'misc') return o.zero === (c as typeof o).zero;
    return o.k !== 'spill' || (o.size === (c as typeof o).size && regCovers(o.reg, (c as typeof o).reg, ids, true));
  }
  // privileged: unwritten bytes read as unknown, as written ones do
  if (o.k === 'invalid') return true;
  if (o.k === 'misc') return c.k === 'misc' ? (o.zero & ~c.zero) === 0 : o.zero === 0 && (c.k === 'invalid' || c.reg.k === 'scalar');
  if (c.k !== 'spill')
    return o.reg.k === 'scalar' && ((!o.reg.precise && !range) || (scalarIdsCover(o.reg, {}, ids) && within(o.reg.s, UNKNOWN)));
  if (o.reg.k === 'scalar' && !o.reg.precise && !range) return c.reg.k === 'scalar';
  return o.size === c.size && regCovers(o.reg, c.reg, ids, false, range);
}

function frameCovers(
  o: FrameState,
  c: FrameState,
  live: number,
  ids: IdMap,
  exact: boolean,
  read: ((s: number) => boolean) | undefined,
  range = false,
): boolean {
  if (o.fn !== c.fn || o.ret !== c.ret) return false;
  // a state that had called a callback more often (bpf_loop's count reached sooner) cannot stand for one with calls left
  if ((o.callbackDepth ?? 0) > (c.callbackDepth ?? 0)) return false;
  // another call of the same callback is not a loop come back to where it was (callback_unroll_depth differs)
  if (exact && (o.callbackDepth ?? 0) !== (c.callbackDepth ?? 0)) return false;
  for (let r = 0; r <= 10; r++) {
    if ((live >> r) & 1 && !regCovers(o.regs[r], c.regs[r], ids, exact, range)) return false;
  }
  // slots no path from the old state read before replacing them do not matter
  for (let s = 0; s < o.stack.length; s++) if ((!read || read(s)) && !slotCovers(o.stack[s], c.stack[s], ids, exact, range)) return false;
  return true;
}

/**
 * covers: the old state, fully explored from `slot`, includes the current one, so the current
 * path is safe and need not go on (states_equal); `exact` asks whether they are the same
 * (RANGE_WITHIN, `range`: scalars are compared by their ranges, precise or not, as at an
 * iterator's next, where the old state's paths are not all walked yet)
 * (a loop that came back to where it was: "infinite loop detected").
 */
export function covers(
  o: VState,
  c: VState,
  slot: number,
  live: Uint16Array,
  exact = false,
  read?: ReadonlySet<number>,
  range = false,
): boolean {
  if (o.frames.length !== c.frames.length || o.refs.size !== c.refs.size) return false;
  if (o.lock?.m !== c.lock?.m || o.lock?.off !== c.lock?.off) return false;
  const ids = new IdMap();
  if (o.lock && !sameIds(o.lock.id, c.lock!.id, ids)) return false;
  for (let f = 0; f < o.frames.length; f++) {
    const inner = f === o.frames.length - 1;
    const mask = inner ? live[slot] : live[o.frames[f + 1].ret] & ~1;
    if (!frameCovers(o.frames[f], c.frames[f], mask, ids, exact, read && !exact ? (s) => read.has(f * 64 + s) : undefined, range))
      return false;
  }
  return true;
}

/** sameSlice: two memory pointers are slices of matching dynptrs, or neither is one (the dynptr_id check of regsafe). */
function sameSlice(o: { dynptr?: number; pktSlice?: boolean }, c: { dynptr?: number; pktSlice?: boolean }, ids: IdMap): boolean {
  if (!o.pktSlice !== !c.pktSlice) return false;
  if (o.dynptr === undefined || c.dynptr === undefined) return o.dynptr === c.dynptr;
  return ids.match(o.dynptr, c.dynptr);
}
