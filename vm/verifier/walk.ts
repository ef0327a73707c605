import type { Instruction } from '../instruction.js';
import { type SlotMap, flowOf, slotMap } from '../cfg.js';
import { Class, JmpOp, Source, opClass } from '../opcodes.js';
import { type CmpOp, branchTaken, refine } from './branch.js';
import { scalarConst } from './scalar.js';
import { type FrameState, type Reg, scalar } from './state.js';
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
export function verifyPaths(insns: readonly Instruction[], progType: number, entry: FrameState, limit = COMPLEXITY_LIMIT): StraightResult & { processed?: number } {
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
          if (op === JmpOp.BPF_CALL) throw new Unsupported('calls');
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
          if (a.k !== 'scalar' || b.k !== 'scalar') throw new Unsupported('comparisons of pointers');
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
        if (step(st, i, progType)) break;
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
