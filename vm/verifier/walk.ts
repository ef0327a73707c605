import type { Instruction } from '../instruction.js';
import { type SlotMap, flowOf, slotMap } from '../cfg.js';
import { Class, JmpOp, Source, opClass } from '../opcodes.js';
import { type CmpOp, branchTaken, refine } from './branch.js';
import { scalarConst } from './scalar.js';
import { type FrameState, type MapInfo, type Reg, constReg, scalar } from './state.js';
import { Refused, type StraightResult, Unsupported, step } from './straight.js';

/** The kernel's limit on instructions processed over all paths (BPF_COMPLEXITY_LIMIT_INSNS). */
export const COMPLEXITY_LIMIT = 1_000_000;

const CMP: Readonly<Record<number, CmpOp>> = {
  [JmpOp.BPF_JEQ]: 'eq', [JmpOp.BPF_JNE]: 'ne', [JmpOp.BPF_JGT]: 'gt', [JmpOp.BPF_JGE]: 'ge', [JmpOp.BPF_JLT]: 'lt', [JmpOp.BPF_JLE]: 'le',
  [JmpOp.BPF_JSGT]: 'sgt', [JmpOp.BPF_JSGE]: 'sge', [JmpOp.BPF_JSLT]: 'slt', [JmpOp.BPF_JSLE]: 'sle', [JmpOp.BPF_JSET]: 'set',
};

const clone = (s: FrameState): FrameState => ({ regs: [...s.regs], stack: [...s.stack] });

/**
 * verifyPaths walks every path of a program without calls, depth first, as do_check does:
 * a conditional jump on scalars goes one way when the bounds decide it and both ways
 * otherwise, each side with its refined bounds; paths end at exit. No state pruning yet, so
 * a loop is followed until it ends or the complexity limit is reached (then E2BIG, as the
 * kernel says "BPF program is too large").
 */
export function verifyPaths(insns: readonly Instruction[], progType: number, entry: FrameState, limit = COMPLEXITY_LIMIT, maps: readonly MapInfo[] = []): StraightResult & { processed?: number } {
  const map: SlotMap = slotMap(insns);
  const work: [number, FrameState][] = [[0, entry]];
  let processed = 0;
  while (work.length) {
    let [slot, st] = work.pop()!;
    for (;;) {
      if (++processed > limit) return { ok: false, insn: slot, errno: 7, message: `BPF program is too large. Processed ${processed} insn` };
      const i = map.at[slot]!;
      try {
        const cls = opClass(i.opcode);
        const op = i.opcode & 0xf0;
        if ((cls === Class.BPF_JMP || cls === Class.BPF_JMP32) && op !== JmpOp.BPF_EXIT) {
          if (op === JmpOp.BPF_CALL) {
            step(st, i, progType, maps);
            slot += 1;
            continue;
          }
          const flow = flowOf(map, slot);
          if (op === JmpOp.BPF_JA) {
            slot = flow.next[0];
            continue;
          }
          const [fall, target] = flow.next;
          const bits = cls === Class.BPF_JMP ? 64 : 32;
          const a = st.regs[i.dst];
          const b: Reg = i.opcode & Source.BPF_X ? st.regs[i.src] : scalar(scalarConst(BigInt.asUintN(64, BigInt(Number(i.imm)))));
          if (a.k === 'none') throw new Refused(13, `R${i.dst} !read_ok`);
          if (b.k === 'none') throw new Refused(13, `R${i.src} !read_ok`);
          if (a.k === 'map_value_or_null' && b.k === 'scalar' && !(i.opcode & Source.BPF_X) && Number(i.imm) === 0 && (op === JmpOp.BPF_JEQ || op === JmpOp.BPF_JNE)) {
            // the NULL check: one side has the value, the other NULL (every copy, by id)
            const isNull = (s: FrameState) => markNull(s, a.id, true);
            const notNull = (s: FrameState) => markNull(s, a.id, false);
            work.push([target, op === JmpOp.BPF_JEQ ? isNull(st) : notNull(st)]);
            st = op === JmpOp.BPF_JEQ ? notNull(st) : isNull(st);
            slot = fall;
            continue;
          }
          if (a.k !== 'scalar' || b.k !== 'scalar') {
            const sides = packetCompare(op, a, b);
            if (!sides) throw new Unsupported('comparisons of pointers other than packet and data_end');
            // the taken side (target) waits; the fall-through goes on
            const [onTaken, onFall] = sides;
            const kind = a.k === 'pkt_end' ? b.k : a.k;
            work.push([target, withRange(st, kind, onTaken)]);
            st = withRange(st, kind, onFall);
            slot = fall;
            continue;
          }
          const cmp = CMP[op];
          const taken = branchTaken(cmp, a.s, b.s, bits);
          // the kernel pushes the jump's target and goes on with the fall-through first
          const sides: [boolean, number][] = taken === undefined ? [[true, target], [false, fall]] : [[taken, taken ? target : fall]];
          const next: [number, FrameState][] = [];
          for (const [t, to] of sides) {
            const r = refine(cmp, a.s, b.s, bits, t);
            if (!r) continue;
            const s2 = clone(st);
            s2.regs[i.dst] = scalar(r[0]);
            if (i.opcode & Source.BPF_X) s2.regs[i.src] = scalar(r[1]);
            next.push([to, s2]);
          }
          if (!next.length) break; // no way on from here (cannot happen for a sound refinement)
          [slot, st] = next.pop()!;
          work.push(...next);
          continue;
        }
        if (step(st, i, progType, maps)) break;
        slot += i.opcode === 0x18 ? 2 : 1;
      } catch (e) {
        if (e instanceof Refused) return { ok: false, insn: slot, errno: e.errno, message: e.message };
        if (e instanceof Unsupported) return { unsupported: e.message, insn: slot };
        throw e;
      }
    }
  }
  return { ok: true, processed };
}

/**
 * packetCompare: for `pkt OP pkt_end` (either order), the packet range each side of the jump
 * proves: [taken, fall-through], in bytes from data (0: nothing proven), as the kernel's
 * try_match_pkt_pointers / find_good_pkt_pointers; undefined for other pointer comparisons.
 */
function packetCompare(op: number, a: Reg, b: Reg): [number, number] | undefined {
  let pkt: Reg;
  let flip = false;
  if ((a.k === 'pkt' || a.k === 'pkt_meta') && b.k === 'pkt_end') pkt = a;
  else if (a.k === 'pkt_end' && (b.k === 'pkt' || b.k === 'pkt_meta')) (pkt = b), (flip = true);
  else return undefined;
  const off = (pkt as { off: number }).off;
  // as "pkt REL end": pkt > end / pkt >= end leave pkt <= end (or <) on the fall-through
  const rel = flip ? ({ [JmpOp.BPF_JGT]: 'lt', [JmpOp.BPF_JLT]: 'gt', [JmpOp.BPF_JGE]: 'le', [JmpOp.BPF_JLE]: 'ge' } as Record<number, string>)[op]
    : ({ [JmpOp.BPF_JGT]: 'gt', [JmpOp.BPF_JLT]: 'lt', [JmpOp.BPF_JGE]: 'ge', [JmpOp.BPF_JLE]: 'le' } as Record<number, string>)[op];
  if (off < 0) return [0, 0];
  // pkt < end proves off + 1 bytes (a right-open range), pkt <= end proves off
  const open = off > 0 ? off + 1 : 0;
  switch (rel) {
    case 'gt': return [0, off]; // fall-through: pkt <= end
    case 'ge': return [0, open]; // fall-through: pkt < end
    case 'lt': return [open, 0]; // taken: pkt < end
    case 'le': return [off, 0]; // taken: pkt <= end
    default: return [0, 0]; // eq, ne, set and signed forms prove nothing
  }
}

/** withRange: a copy of the state with the range of every packet pointer of `kind` raised to `range`. */
function withRange(st: FrameState, kind: string, range: number): FrameState {
  const s = clone(st);
  const raise = (r: Reg): Reg => (r.k === kind && (r.k === 'pkt' || r.k === 'pkt_meta') && r.range < range ? { ...r, range } : r);
  s.regs.forEach((r, i) => (s.regs[i] = raise(r)));
  s.stack.forEach((slot, i) => {
    if (slot.k === 'spill') s.stack[i] = { k: 'spill', reg: raise(slot.reg) };
  });
  return s;
}

/** markNull: a copy of the state where the lookup result `id` is NULL (a zero scalar) or the value. */
function markNull(st: FrameState, id: number, isNull: boolean): FrameState {
  const s = clone(st);
  const mark = (r: Reg): Reg => (r.k === 'map_value_or_null' && r.id === id ? (isNull ? constReg(0n) : { k: 'map_value', map: r.map, off: r.off }) : r);
  s.regs.forEach((r, i) => (s.regs[i] = mark(r)));
  s.stack.forEach((slot, i) => {
    if (slot.k === 'spill') s.stack[i] = { k: 'spill', reg: mark(slot.reg) };
  });
  return s;
}
