import type { SlotMap } from '../cfg.js';
import { AluOp, Class, JmpOp, LDDW, Mode, Source, opClass } from '../opcodes.js';
import { stateText } from './log.js';
import { insnText } from './logWriter.js';
import type { Reg, StackSlot, VState } from './state.js';

/**
 * Precision (the kernel's mark_chain_precision): a scalar is "precise" once some safety
 * decision depended on its value: pointer arithmetic, a helper's size, a constant map key, a
 * branch the bounds decided. State pruning compares only precise scalars; an imprecise one
 * matches any scalar, since nothing on the paths explored from the old state looked at it.
 * When a value must become precise, the instructions of the path are walked back to find
 * where it came from (registers, stack slots), and those are marked precise in the states
 * kept along the path too, so later comparisons with them compare the values that mattered.
 */

/** HistoryEntry: one instruction of a path; `spi`: the stack slot it spilled to or filled from (innermost frame). */
export interface HistoryEntry {
  readonly slot: number;
  readonly spi?: number;
  /** The instruction changed frames (a call or an exit): precision is not tracked across it. */
  readonly frames?: boolean;
}

/** Chain: a kept state and the path that led to it from its own parent. */
export interface Chain {
  readonly vs: VState;
  readonly history: readonly HistoryEntry[];
  readonly parent: Chain | undefined;
}

const precise = (r: Reg): Reg => (r.k === 'scalar' && !r.precise ? { ...r, precise: true } : r);
const preciseSlot = (s: StackSlot): StackSlot =>
  s.k === 'spill' && s.reg.k === 'scalar' && !s.reg.precise ? { ...s, reg: precise(s.reg) } : s;

/** markAll: every scalar of the state precise (the fallback where the walk back cannot follow). */
function markAll(vs: VState): void {
  for (const f of vs.frames) {
    f.regs.forEach((r, i) => (f.regs[i] = precise(r)));
    f.stack.forEach((s, i) => (f.stack[i] = preciseSlot(s)));
  }
}

/** mark: registers `regs` (bit n = rN) and stack slots `spis` of the innermost frame precise; whether anything changed. */
function mark(vs: VState, regs: number, spis: ReadonlySet<number>): boolean {
  const f = vs.frames[vs.frames.length - 1];
  let changed = false;
  for (let r = 0; r < 11; r++) {
    if (!((regs >> r) & 1)) continue;
    const v = precise(f.regs[r]);
    if (v !== f.regs[r]) ((f.regs[r] = v), (changed = true));
  }
  for (const spi of spis) {
    const s = preciseSlot(f.stack[spi]);
    if (s !== f.stack[spi]) ((f.stack[spi] = s), (changed = true));
  }
  return changed;
}

/**
 * backtrack walks one instruction back (backtrack_insn): which registers and slots its inputs
 * were, given those needed after it. Returns false where it cannot follow (frames changed).
 */
function backtrack(map: SlotMap, e: HistoryEntry, need: { regs: number; spis: Set<number> }): boolean {
  if (e.frames) return false;
  const i = map.at[e.slot]!;
  const cls = opClass(i.opcode);
  const op = i.opcode & 0xf0;
  const x = (i.opcode & Source.BPF_X) !== 0;
  const d = 1 << i.dst;
  const s = 1 << i.src;
  const has = (bit: number) => (need.regs & bit) !== 0;
  switch (cls) {
    case Class.BPF_ALU:
    case Class.BPF_ALU64:
      if (!has(d)) return true;
      if (op === AluOp.BPF_MOV) {
        need.regs &= ~d;
        if (x) need.regs |= s;
      } else if (x && op !== AluOp.BPF_END && op !== AluOp.BPF_NEG) need.regs |= s;
      return true;
    case Class.BPF_LDX:
      if (!has(d)) return true;
      need.regs &= ~d;
      if (e.spi !== undefined) need.spis.add(e.spi);
      return true;
    case Class.BPF_ST:
    case Class.BPF_STX:
      if ((i.opcode & 0xe0) === Mode.BPF_ATOMIC) {
        // a fetch reads memory: the old value needs no precision from before
        if (Number(i.imm) === 0xf1) need.regs &= ~1;
        else if (Number(i.imm) & 1) need.regs &= ~s;
        return true;
      }
      if (e.spi !== undefined && need.spis.has(e.spi)) {
        need.spis.delete(e.spi);
        if (cls === Class.BPF_STX) need.regs |= s;
      }
      return true;
    case Class.BPF_LD:
      if (i.opcode === LDDW) need.regs &= ~d;
      else need.regs &= ~1; // LD_ABS / LD_IND: r0 from the packet
      return true;
    default:
      if (op === JmpOp.BPF_CALL) {
        need.regs &= ~1;
        return true;
      }
      if (op === JmpOp.BPF_EXIT || op === JmpOp.BPF_JA) return true;
      // a comparison: both sides' bounds came from each other
      if (has(d) || (x && has(s))) need.regs |= d | (x ? s : 0);
      return true;
  }
}

/**
 * PrecisionLog: where the walk back is told at log level 2, as __mark_chain_precision tells it:
 * `mark_precise: frame0: last_idx 4 first_idx 0 subseq_idx -1 `, then for each instruction
 * walked back with something still wanted `mark_precise: frame0: regs=r1 stack= before 3: (b7) r1 = 0`,
 * and at each kept state reached `mark_precise: frame0: parent state regs=r1 stack=: <its state>`.
 * `at`: the instruction that asked (last_idx). The indexes are bpfbox's: its kept states are
 * not always where the kernel keeps its own.
 */
export interface PrecisionLog {
  readonly at: number;
  readonly emit: (line: string) => void;
}

/** fmt_reg_mask, fmt_stack_mask: `r1,r4` and `-8,-24`. */
const regsText = (regs: number) =>
  Array.from({ length: 11 }, (_, r) => r)
    .filter((r) => (regs >> r) & 1)
    .map((r) => `r${r}`)
    .join(',');
const stackText = (spis: ReadonlySet<number>) =>
  [...spis]
    .sort((a, b) => a - b)
    .map((spi) => String(-(spi + 1) * 8))
    .join(',');

/**
 * tellWalk: the log lines of one segment of the walk back (the instructions of `hist`, last
 * first, while something is still wanted); the wanted set is a copy, nothing is marked.
 */
function tellWalk(
  map: SlotMap,
  trace: PrecisionLog,
  hist: readonly HistoryEntry[],
  need: { regs: number; spis: Set<number> },
  last: number,
  subseq: number,
  frame: number,
): void {
  trace.emit(`mark_precise: frame${frame}: last_idx ${last} first_idx ${hist[0]?.slot ?? last} subseq_idx ${subseq} `);
  const want = { regs: need.regs, spis: new Set(need.spis) };
  for (let n = hist.length - 1; n >= 0 && (want.regs || want.spis.size); n--) {
    trace.emit(
      `mark_precise: frame${frame}: regs=${regsText(want.regs)} stack=${stackText(want.spis)} before ${insnText(hist[n].slot, map.at[hist[n].slot]!)}`,
    );
    if (!backtrack(map, hist[n], want)) return;
  }
}

/**
 * demand makes registers `regs` and slots `spis` of the innermost frame precise in the current
 * state, then walks back through `history` and the kept states of `chain`, marking where the
 * values came from; with `trace` (log level 2) it tells the walk as the kernel does.
 */
export function demand(
  map: SlotMap,
  vs: VState,
  history: readonly HistoryEntry[],
  chain: Chain | undefined,
  regs: number,
  spis: readonly number[] = [],
  trace?: PrecisionLog,
): void {
  const need = { regs, spis: new Set(spis) };
  if (trace) {
    // the kernel asks only for spilled scalars (a key of STACK_ZERO bytes needs no walk back)
    const stack = vs.frames[vs.frames.length - 1].stack;
    const told = { regs, spis: new Set(spis.filter((spi) => stack[spi].k === 'spill' && (stack[spi] as { reg: Reg }).reg.k === 'scalar')) };
    if (told.regs || told.spis.size) tellWalk(map, trace, history, told, trace.at, -1, vs.frames.length - 1);
    else trace = undefined;
  }
  mark(vs, need.regs, need.spis);
  let hist = history;
  let at = chain;
  for (;;) {
    for (let n = hist.length - 1; n >= 0; n--) {
      if (!backtrack(map, hist[n], need)) {
        markAll(vs);
        for (let c = at; c; c = c.parent) markAll(c.vs);
        return;
      }
    }
    if ((need.regs === 0 && need.spis.size === 0) || !at) return;
    // the kept state: its registers now precise; if they were already, its own walk back happened
    const changed = mark(at.vs, need.regs, need.spis);
    if (trace) {
      const frame = vs.frames.length - 1;
      trace.emit(
        `mark_precise: frame${frame}: parent state regs=${regsText(need.regs)} stack=${stackText(need.spis)}: ${stateText(at.vs)}`,
      );
      if (changed && at.history.length)
        tellWalk(map, trace, at.history, need, at.history[at.history.length - 1].slot, hist[0]?.slot ?? trace.at, frame);
    }
    if (!changed) return;
    hist = at.history;
    at = at.parent;
  }
}

/** precisePart: the precise registers (mask) and spilled slots of a kept state's innermost frame, for propagate_precision; undefined with more frames. */
export function precisePart(vs: VState): { regs: number; spis: number[] } | undefined {
  if (vs.frames.length > 1) return undefined;
  const f = vs.frames[0];
  let regs = 0;
  for (let i = 0; i < f.regs.length; i++) {
    const r = f.regs[i];
    if (r.k === 'scalar' && r.precise) regs |= 1 << i;
  }
  const spis: number[] = [];
  for (let i = 0; i < f.stack.length; i++) {
    const s = f.stack[i];
    if (s.k === 'spill' && s.reg.k === 'scalar' && s.reg.precise) spis.push(i);
  }
  return { regs, spis };
}
