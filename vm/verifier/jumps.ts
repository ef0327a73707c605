import type { Instruction } from '../instruction.js';
import { JmpOp, Source } from '../opcodes.js';
import { type CmpOp, branchTaken, refine } from './branch.js';
import type { Env } from './memory.js';
import { linkedRegs, syncLinked } from './linked.js';
import { MAX_VAR_OFF } from './refuse.js';
import { type Scalar, scalarConst } from './scalar.js';
import { type Reg, type VState, cloneState, constReg, mapRegs, scalar } from './state.js';
import { cur, read } from './step.js';

/**
 * jumps: what a conditional jump teaches each side (check_cond_jmp_op): scalar bounds
 * refined (a side no value reaches is dropped), packet ranges proven against data_end,
 * NULL checks of lookup results and reservations, decided comparisons of pointers with 0.
 */

const CMP: Readonly<Record<number, CmpOp>> = {
  [JmpOp.BPF_JEQ]: 'eq',
  [JmpOp.BPF_JNE]: 'ne',
  [JmpOp.BPF_JGT]: 'gt',
  [JmpOp.BPF_JGE]: 'ge',
  [JmpOp.BPF_JLT]: 'lt',
  [JmpOp.BPF_JLE]: 'le',
  [JmpOp.BPF_JSGT]: 'sgt',
  [JmpOp.BPF_JSGE]: 'sge',
  [JmpOp.BPF_JSLT]: 'slt',
  [JmpOp.BPF_JSLE]: 'sle',
  [JmpOp.BPF_JSET]: 'set',
};

/**
 * branch: the states on each side of a conditional jump, [taken, fall-through], undefined for
 * a side no value can reach; `live`: the innermost frame's registers live at the jump (bit n = rN),
 * the only ones a comparison's bounds reach through a shared id.
 */
export function branch(vs: VState, i: Instruction, bits: 32 | 64, env: Env, live = 0xffff): [VState | undefined, VState | undefined] {
  const op = i.opcode & 0xf0;
  const x = (i.opcode & Source.BPF_X) !== 0;
  const a = read(vs, i.dst);
  const b: Reg = x ? read(vs, i.src) : scalar(scalarConst(BigInt.asUintN(64, BigInt(Number(i.imm)))));
  void env;
  const isZero = (r: Reg) => r.k === 'scalar' && r.s.umax === 0n;
  const nullable = (r: Reg) => r.k === 'map_value_or_null' || r.k === 'map_ptr_or_null' || r.k === 'mem_or_null' || r.k === 'sock_or_null';
  const eq = (op === JmpOp.BPF_JEQ || op === JmpOp.BPF_JNE) && bits === 64;
  if (eq && nullable(a) && isZero(b)) {
    // the NULL check: the destination has the object, the source (an immediate or a register) is
    // NULL; every copy, by id. A NULL destination against a maybe-NULL source checks nothing.
    const p = a as { id: number };
    const isNull = markNull(vs, p.id, true);
    const notNull = markNull(vs, p.id, false);
    return op === JmpOp.BPF_JEQ ? [isNull, notNull] : [notNull, isNull];
  }
  if (a.k === 'scalar' && b.k === 'scalar') {
    const cmp = CMP[op];
    const taken = branchTaken(cmp, a.s, b.s, bits);
    // a branch the bounds decide: the values decided it (mark_chain_precision on both)
    if (taken !== undefined) env.demand((1 << i.dst) | (x ? 1 << i.src : 0));
    // collect_linked_regs (where the branch is not decided): the scalars sharing the compared
    // registers' ids, kept in the jump's history entry for precision (push_insn_history); the
    // running kernel (6.18) leaves out registers dead at the jump (xdp_headroom.o's level 2 log)
    const ids = taken !== undefined ? [] : [...(x && b.k === 'scalar' && b.id ? [b.id] : []), ...(a.k === 'scalar' && a.id ? [a.id] : [])];
    const links = linkedRegs(vs, ids, live);
    env.linked?.(links);
    const side = (t: boolean): VState | undefined => {
      if (taken !== undefined && taken !== t) return undefined;
      const r = refine(cmp, a.s, b.s, bits, t);
      if (!r) return undefined;
      const s2 = cloneState(vs);
      // the registers keep their ids (reg_set_min_max narrows them in place)
      const keep = (v: Reg, n: Scalar): Reg =>
        v.k === 'scalar' && v.id ? { k: 'scalar', s: n, id: v.id, delta: v.delta, ...(v.precise ? { precise: true } : {}) } : scalar(n);
      cur(s2).regs[i.dst] = keep(a, r[0]);
      if (x) cur(s2).regs[i.src] = keep(b, r[1]);
      // sync_linked_regs: what the comparison taught the source, then the destination, every register sharing its id learns
      if (x) syncLinked(s2, links, i.src);
      syncLinked(s2, links, i.dst);
      return s2;
    };
    return [side(true), side(false)];
  }
  // a packet pointer known to be at or past pkt_end decides its comparisons with pkt_end (is_pkt_ptr_branch_taken)
  const known = bits === 64 ? pktEndTaken(op, a, b) : undefined;
  if (known !== undefined) return known ? [vs, undefined] : [undefined, vs];
  const ranges = packetCompare(op, a, b, bits);
  if (ranges) {
    const pkt = (a.k === 'pkt_end' || (a.k === 'pkt' && b.k === 'pkt_meta') ? b : a) as { k: string; id: number; off: number };
    const sides: [VState, VState] = [withRange(vs, pkt, ranges[0]), withRange(vs, pkt, ranges[1])];
    // mark_pkt_end: on the side where the pointer is past pkt_end (or at it), the compared register says so
    if (bits === 64 && ((a.k === 'pkt' && b.k === 'pkt_end') || (a.k === 'pkt_end' && b.k === 'pkt'))) {
      const r = a.k === 'pkt' ? i.dst : i.src;
      const rel = pktRelation(op, a.k === 'pkt_end');
      const mark = (side: VState, relation: string | undefined) => {
        const range = relation === 'gt' ? BEYOND_PKT_END : relation === 'ge' ? AT_PKT_END : undefined;
        const p = cur(side).regs[r];
        if (range !== undefined && p.k === 'pkt') cur(side).regs[r] = { ...p, range };
      };
      if (rel) {
        mark(sides[0], rel);
        mark(sides[1], NEGATED[rel]);
      }
    }
    return sides;
  }
  // a pointer that cannot be NULL against zero: decided (is_branch_taken on pointers)
  if (bits === 64 && (op === JmpOp.BPF_JEQ || op === JmpOp.BPF_JNE) && ((notNull(a) && isZero(b)) || (notNull(b) && isZero(a)))) {
    return op === JmpOp.BPF_JEQ ? [undefined, vs] : [vs, undefined];
  }
  // two pointers equal: one known not NULL makes the other so on the equal side (PTR_TO_BTF_ID aside)
  if (eq && x && isPointer(a) && isPointer(b)) {
    const sides: [VState, VState] = [cloneState(vs), vs];
    const equal = cur(sides[op === JmpOp.BPF_JEQ ? 0 : 1]).regs;
    if (notNull(a) && nullable(b)) equal[i.src] = present(b as Parameters<typeof present>[0]);
    if (notNull(b) && nullable(a)) equal[i.dst] = present(a as Parameters<typeof present>[0]);
    return sides;
  }
  // other pointer comparisons (privileged): both sides, nothing learned
  return [cloneState(vs), vs];
}

/** The kernel's packet ranges for a pointer past pkt_end (BEYOND_PKT_END) and at it or past (AT_PKT_END). */
const BEYOND_PKT_END = -2;
const AT_PKT_END = -1;
const NEGATED: Record<string, string> = { gt: 'le', ge: 'lt', lt: 'ge', le: 'gt' };
/** flip_opcode: the operands swapped. */
const FLIPPED: Record<string, string> = { gt: 'lt', ge: 'le', lt: 'gt', le: 'ge' };

/** pktRelation: the unsigned comparison seen from the packet pointer's side (`flip`: pkt_end is the destination). */
function pktRelation(op: number, flip: boolean): string | undefined {
  const rel = ({ [JmpOp.BPF_JGT]: 'gt', [JmpOp.BPF_JLT]: 'lt', [JmpOp.BPF_JGE]: 'ge', [JmpOp.BPF_JLE]: 'le' } as Record<number, string>)[
    op
  ];
  return flip && rel ? FLIPPED[rel] : rel;
}

/**
 * pktEndTaken: is_pkt_ptr_branch_taken: a packet pointer past pkt_end (BEYOND_PKT_END) is not <= or < it
 * and is > and >= it; one at it (AT_PKT_END) is >= it and not < it. Undefined: not decided.
 */
function pktEndTaken(op: number, a: Reg, b: Reg): boolean | undefined {
  const pkt = b.k === 'pkt_end' ? a : a.k === 'pkt_end' ? b : undefined;
  if (!pkt || (pkt.k !== 'pkt' && pkt.k !== 'pkt_meta') || pkt.range >= 0) return undefined;
  const rel = pktRelation(op, a.k === 'pkt_end');
  if ((rel === 'le' || rel === 'gt') && pkt.range === BEYOND_PKT_END) return rel === 'gt';
  if ((rel === 'lt' || rel === 'ge') && (pkt.range === BEYOND_PKT_END || pkt.range === AT_PKT_END)) return rel === 'ge';
  return undefined;
}

/**
 * packetCompare: for `pkt OP pkt_end` (either order), the packet range each side of the jump
 * proves: [taken, fall-through], in bytes past the pointer's base (0: nothing proven), as the
 * kernel's try_match_pkt_pointers / find_good_pkt_pointers; undefined for other comparisons.
 */
function packetCompare(op: number, a: Reg, b: Reg, bits: number): [number, number] | undefined {
  let pkt: Reg;
  let flip = false;
  // data_end bounds packet pointers; data itself (as it came) bounds data_meta pointers (not data_end:
  // try_match_pkt_pointers has no such pair, so a data_meta pointer compared with data_end learns nothing)
  const isData = (r: Reg) => r.k === 'pkt' && r.off === 0 && r.id === 0;
  if (a.k === 'pkt' && b.k === 'pkt_end') pkt = a;
  else if (a.k === 'pkt_end' && b.k === 'pkt') ((pkt = b), (flip = true));
  else if (a.k === 'pkt_meta' && isData(b)) pkt = a;
  else if (isData(a) && b.k === 'pkt_meta') ((pkt = b), (flip = true));
  else return undefined;
  if (bits === 32) return [0, 0];
  const p = pkt as { off: number; var: { umax: bigint } };
  const off = p.off;
  const rel = flip
    ? ({ [JmpOp.BPF_JGT]: 'lt', [JmpOp.BPF_JLT]: 'gt', [JmpOp.BPF_JGE]: 'le', [JmpOp.BPF_JLE]: 'ge' } as Record<number, string>)[op]
    : ({ [JmpOp.BPF_JGT]: 'gt', [JmpOp.BPF_JLT]: 'lt', [JmpOp.BPF_JGE]: 'ge', [JmpOp.BPF_JLE]: 'le' } as Record<number, string>)[op];
  // find_good_pkt_pointers gives nothing for a negative offset or a variable part past 64 KiB
  if (off < 0 || p.var.umax > 0xffffn || p.var.umax + BigInt(off) > 0xffffn) return [0, 0];
  // pkt < end proves off + 1 bytes (a right-open range), pkt <= end proves off
  const open = off > 0 ? off + 1 : 0;
  switch (rel) {
    case 'gt':
      return [0, off]; // fall-through: pkt <= end
    case 'ge':
      return [0, open]; // fall-through: pkt < end
    case 'lt':
      return [open, 0]; // taken: pkt < end
    case 'le':
      return [off, 0]; // taken: pkt <= end
    default:
      return [0, 0]; // eq, ne, set and signed forms prove nothing
  }
}

/** withRange: a copy of the state with the range of every packet pointer sharing the compared one's kind and id raised to `range`. */
function withRange(vs: VState, pkt: { k: string; id: number }, range: number): VState {
  const s = cloneState(vs);
  mapRegs(s, (r) => ((r.k === 'pkt' || r.k === 'pkt_meta') && r.k === pkt.k && r.id === pkt.id && r.range < range ? { ...r, range } : r));
  return s;
}

/** markNull: a copy of the state where the object `id` is NULL (a zero scalar) or there (mark_ptr_or_null_regs). */
function markNull(vs: VState, id: number, isNull: boolean): VState {
  const s = cloneState(vs);
  let released: number | undefined;
  mapRegs(s, (r) => {
    if ((r.k === 'map_value_or_null' || r.k === 'map_ptr_or_null' || r.k === 'mem_or_null' || r.k === 'sock_or_null') && r.id === id) {
      if (isNull) {
        // only the acquired pointer itself (id == ref_obj_id) drops the reference, not a cast of it
        if (r.k === 'mem_or_null' || (r.k === 'sock_or_null' && r.ref === r.id)) released = r.ref;
        return constReg(0n);
      }
      return present(r);
    }
    return r;
  });
  // a NULL reservation holds nothing to release
  if (released !== undefined) s.refs.delete(released);
  return s;
}

/** isPointer: a pointer the kernel lifts NULL-ness between (__is_pointer_value, not PTR_TO_BTF_ID). */
const isPointer = (r: Reg): boolean => r.k !== 'scalar' && r.k !== 'none' && !((r.k === 'mem' || r.k === 'mem_or_null') && r.btf);

/** present: a maybe-NULL pointer known not to be NULL (mark_ptr_not_null_reg). */
function present(r: Reg & { k: 'map_value_or_null' | 'map_ptr_or_null' | 'mem_or_null' | 'sock_or_null' }): Reg {
  // mark_ptr_or_null_reg: the id stays only on values that hold a spin lock (reg_may_point_to_spin_lock)
  if (r.k === 'map_value_or_null')
    return { k: 'map_value', m: r.m, off: r.off, var: scalarConst(0n), ...(r.m.spinLock !== undefined ? { id: r.id } : {}) };
  if (r.k === 'map_ptr_or_null') return { k: 'map_ptr', m: r.m, off: r.off };
  if (r.k === 'sock_or_null') return { k: 'sock', type: r.type, ref: r.ref };
  return {
    k: 'mem',
    size: r.size,
    off: r.off,
    ref: r.ref,
    var: scalarConst(0n),
    ...(r.rdonly ? { rdonly: true } : {}),
    ...(r.btf ? { btf: r.btf } : {}),
    ...(r.plain ? { plain: true } : {}),
    ...(r.dynptr !== undefined ? { dynptr: r.dynptr } : {}),
    ...(r.pktSlice ? { pktSlice: true } : {}),
  };
}

/**
 * notNull: reg_not_null (kernel/bpf/verifier.c): the pointer kinds the kernel knows are not
 * NULL (map values, memory, maps) and whose variable part cannot wrap them to zero. The
 * context, the stack and packet pointers are not among them: a comparison of one with zero
 * is not decided, both branches are walked (verifier_unpriv.c's fill_of_different_pointers_*).
 */
function notNull(r: Reg): boolean {
  if (r.k === 'map_ptr' || r.k === 'sock') return true;
  if (r.k !== 'map_value' && r.k !== 'mem') return false;
  return r.var.smin > -MAX_VAR_OFF && r.var.smax < MAX_VAR_OFF;
}
