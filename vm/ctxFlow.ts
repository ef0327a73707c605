import { width } from './instruction.js';
import { flowOf } from './cfg.js';
import { AluOp, Class, JmpOp, Mode, Size, Source, opClass } from './opcodes.js';
import type { CheckedProgram } from './program.js';

/** CtxAccess: a load or store through the context pointer at a known offset. */
export interface CtxAccess {
  readonly slot: number;
  /** The register holding the context pointer, and how far it was moved from the context's start. */
  readonly reg: number;
  readonly regOff: number;
  /** The instruction's own offset. */
  readonly off: number;
  readonly size: number;
  readonly write: boolean;
  readonly atomic: boolean;
}

const SIZES: Readonly<Record<number, number>> = { [Size.BPF_W]: 4, [Size.BPF_H]: 2, [Size.BPF_B]: 1, [Size.BPF_DW]: 8 };
const UNKNOWN = Number.NaN;

/**
 * ctxAccesses finds the loads and stores of the main function that go through the context
 * pointer on every path into them: r1 at entry, copied by `mov`, moved by `add`/`sub` of a
 * constant; anything else a register receives (and every call, for r0-r5) makes it unknown.
 * A must-analysis: where paths disagree the register is unknown, so what it reports is
 * certain, and what it misses (a context pointer spilled to the stack, passed to a
 * subprogram) is left to the verifier of a later issue.
 */
export function ctxAccesses(p: CheckedProgram): CtxAccess[] {
  const map = p.slots;
  const states: (Float64Array | undefined)[] = new Array(map.length);
  const entry = new Float64Array(11).fill(UNKNOWN);
  entry[1] = 0;
  states[0] = entry;
  const work = [0];
  const inMain = mainSlots(p);
  while (work.length) {
    const slot = work.pop()!;
    const st = transfer(p, slot, states[slot]!);
    for (const to of flowOf(map, slot).next) {
      if (to >= map.length || !inMain.has(to)) continue;
      const before = states[to];
      if (!before) {
        states[to] = Float64Array.from(st);
        work.push(to);
        continue;
      }
      let changed = false;
      for (let r = 0; r < 11; r++) {
        if (!Number.isNaN(before[r]) && before[r] !== st[r]) {
          before[r] = UNKNOWN;
          changed = true;
        }
      }
      if (changed) work.push(to);
    }
  }
  // with the states settled, the accesses each reached instruction makes
  const found: CtxAccess[] = [];
  states.forEach((st, slot) => {
    if (st) transfer(p, slot, st, found);
  });
  return found;
}

/** transfer: the register state after the instruction at `slot`; context accesses go to `found`. */
function transfer(p: CheckedProgram, slot: number, before: Float64Array, found?: CtxAccess[]): Float64Array {
  {
    const i = p.slots.at[slot]!;
    const st = Float64Array.from(before);
    const cls = opClass(i.opcode);
    const op = i.opcode & 0xf0;
    const mode = i.opcode & 0xe0;
    switch (cls) {
      case Class.BPF_ALU64:
        if (op === AluOp.BPF_MOV && (i.opcode & Source.BPF_X) && i.offset === 0) st[i.dst] = st[i.src];
        else if ((op === AluOp.BPF_ADD || op === AluOp.BPF_SUB) && !(i.opcode & Source.BPF_X)) st[i.dst] += (op === AluOp.BPF_ADD ? 1 : -1) * Number(i.imm);
        else st[i.dst] = UNKNOWN;
        break;
      case Class.BPF_ALU:
        st[i.dst] = UNKNOWN;
        break;
      case Class.BPF_LDX:
        if (!Number.isNaN(st[i.src])) found?.push({ slot, reg: i.src, regOff: st[i.src], off: i.offset, size: SIZES[i.opcode & 0x18], write: false, atomic: false });
        st[i.dst] = UNKNOWN;
        break;
      case Class.BPF_ST:
      case Class.BPF_STX: {
        const atomic = mode === Mode.BPF_ATOMIC;
        if (!Number.isNaN(st[i.dst])) found?.push({ slot, reg: i.dst, regOff: st[i.dst], off: i.offset, size: SIZES[i.opcode & 0x18], write: true, atomic });
        if (atomic) {
          const imm = Number(i.imm);
          if (imm === 0xf1) st[0] = UNKNOWN; // cmpxchg writes r0
          else if (imm & 1) st[i.src] = UNKNOWN; // BPF_FETCH writes the old value to src
        }
        break;
      }
      case Class.BPF_LD:
        if (mode === Mode.BPF_IMM) st[i.dst] = UNKNOWN;
        else st[0] = UNKNOWN; // LD_ABS / LD_IND: r0, and r1-r5 are scratched
        if (mode !== Mode.BPF_IMM) for (let r = 1; r <= 5; r++) st[r] = UNKNOWN;
        break;
      case Class.BPF_JMP:
      case Class.BPF_JMP32:
        if (op === JmpOp.BPF_CALL) for (let r = 0; r <= 5; r++) st[r] = UNKNOWN;
        break;
    }
    return st;
  }
}

/** mainSlots: the slots of the main function (up to the first subprogram). */
function mainSlots(p: CheckedProgram): Set<number> {
  const end = p.functions.filter((f) => f > 0).reduce((a, b) => Math.min(a, b), p.slots.length);
  const s = new Set<number>();
  for (let i = 0; i < end; i += p.slots.at[i] ? width(p.slots.at[i]!) : 1) s.add(i);
  return s;
}
