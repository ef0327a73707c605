import { InstructionError } from '../errors.js';
import { checkLegal } from '../legality.js';
import type { Instruction } from '../instruction.js';
import { type SlotMap, flowOf } from '../cfg.js';
import { BPF_MAY_GOTO, Class, JmpOp, LDDW, MAY_GOTO, Mode, Pseudo, Source, isMayGoto, opClass } from '../opcodes.js';
import { type GlobalFunc, argModels, checkDynptrArgs, globalCall } from './globalFunc.js';
import { checkHelperCall, unreleased } from './helpers.js';
import { stateText } from './log.js';
import { type LogPos, LogWriter, insnText, touched } from './logWriter.js';

/** LineInfo: the source line an instruction (and those after it, up to the next entry) comes from (BTF line_info). */
export interface LineInfo {
  readonly insn: number;
  readonly line: string;
  readonly file?: string;
  readonly lineNum?: number;
}
import type { Env } from './memory.js';
import type { LinkedRegs } from './linked.js';
import { type Chain, type HistoryEntry, demand, precisePart } from './precision.js';
import { branch } from './jumps.js';
import { covers } from './prune.js';
import { checkKfuncCall, isIterNext, iterActiveAt, iterDrain, iterNextActive, widenImprecise } from './kfuncs.js';
import { E2BIG, EINVAL, Refused, refuse, unsupported } from './refuse.js';
import { type FrameState, NONE, type Reg, type VState, cloneState, constReg, frame, kindName, mapRegs, unknownScalar } from './state.js';
import type { RetvalRange } from './verifierOps.js';
import { cur, read, step } from './step.js';

/** The kernel's limit on instructions processed over all paths (BPF_COMPLEXITY_LIMIT_INSNS). */
export const COMPLEXITY_LIMIT = 1_000_000;
/** MAX_CALL_FRAMES: the main function and seven nested calls. */
export const MAX_CALL_FRAMES = 8;

/**
 * Checkpoint: a state kept at a prune point; `branches` counts the paths from it still being
 * explored; `history` the instructions from its parent to it (for precision's walk back).
 */
interface Checkpoint extends Chain {
  branches: number;
  readonly parent: Checkpoint | undefined;
  /** Stack slots (frame * 64 + spi) some path from here read before writing them: only these are compared. */
  readonly read: Set<number>;
  /** Slots replaced whole on the way from the parent to here (they screen the parent from reads below). */
  readonly written: ReadonlySet<number>;
  /** Paths this state pruned, and paths it was compared with and did not (the kernel's hit_cnt, miss_cnt). */
  hits: number;
  misses: number;
  /**
   * The iterator's next this state loops back to (the kernel's loop_entry), set when a path
   * from it converged there: while that loop is still walked, states are compared by ranges.
   */
  loopEntry?: Checkpoint;
}

/** is_state_visited's `n`: more than hits * n + n misses and a state is dropped from its instruction's list. */
const EVICT_MISSES = 3;
/** The same for a forced checkpoint (an iterator's next, a callback call) whose loop is still walked. */
const FORCED_EVICT_MISSES = 64;
/** BPF_COMPLEXITY_LIMIT_JMP_SEQ: branches waiting to be walked at once ("The sequence of N jumps is too complex."). */
export const JMP_SEQ_LIMIT = 8192;

/** WalkStats: what the walk did, for the log's last line and the figures. */
export interface WalkStats {
  /** The slot being checked (where a refusal happened). */
  slot: number;
  processed: number;
  totalStates: number;
  peakStates: number;
  maxStatesPerInsn: number;
}

/** WalkInput: the program and what the walk needs besides it. */
export interface WalkInput {
  readonly map: SlotMap;
  readonly live: Uint16Array;
  readonly prunePoints: Uint8Array;
  readonly env: Env;
  readonly limit: number;
  /** log_level: 0 nothing, 1 the instructions as processed, 2 also the state after each. */
  readonly logLevel: number;
  /** Line info sorted by instruction (VerifyOptions.lineInfo). */
  readonly lineInfo: readonly LineInfo[];
  readonly log: string[];
  /** BTF func_info was given (callbacks need it). */
  readonly funcInfo: boolean;
  /** Precision demands the checks of the current instruction made (env.demand pushes them). */
  readonly pending: { regs: number; spis: readonly number[] }[];
  /** The global functions (BTF_FUNC_GLOBAL) by first slot. */
  readonly globalFuncs: ReadonlyMap<number, GlobalFunc>;
  /** Set to 1 at each slot some path reaches (the kernel's insn_aux_data[].seen): the rest is dead code. */
  readonly seen: Uint8Array;
}

/**
 * walk: the kernel's do_check: every path of the program, depth first, the jump's target
 * pushed and the fall-through followed first; conditional jumps on scalars refined on both
 * sides (a side the bounds rule out is not walked); packet ranges proven by comparisons with
 * data_end; NULL checks by id; bpf-to-bpf calls and callbacks in frames of their own. At
 * prune points a state already fully explored that includes the current one ends the path;
 * one still being explored and equal to it is an infinite loop. Throws Refused.
 */
export function walk(input: WalkInput, entry: VState, stats: WalkStats): void {
  const { map, env, log, logLevel } = input;
  // verbose_linfo: before an instruction, its source line when that is not the line last shown
  // (`; __u32 len = ... @ file.c:17`; the same file and line number again, another column, is
  // not shown again); the last one shown is kept across paths, as the kernel's
  // env->prev_linfo is (reset only per subprogram check), even where level 1 rewinds the log
  let prevLinfo: LineInfo | undefined;
  const linfo = (slot: number): void => {
    const li = input.lineInfo;
    let lo = 0;
    let hi = li.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (li[mid].insn <= slot) ((at = mid), (lo = mid + 1));
      else hi = mid - 1;
    }
    if (at < 0 || li[at] === prevLinfo) return;
    // the same file and line as the one shown (columns apart): not again
    if (prevLinfo && prevLinfo.file === li[at].file && prevLinfo.lineNum === li[at].lineNum) return;
    prevLinfo = li[at];
    const file = (li[at].file ?? '').split('/').pop();
    out.emit(`; ${li[at].line.trimStart()} @ ${file}:${li[at].lineNum ?? 0}`);
  };
  const out = new LogWriter(log);
  const visited = new Map<number, Checkpoint[]>();
  const work: {
    slot: number;
    vs: VState;
    parent: Checkpoint | undefined;
    from: number;
    history: HistoryEntry[];
    written: Set<number>;
    logAt?: LogPos;
  }[] = [{ slot: 0, vs: entry, parent: undefined, from: -1, history: [], written: new Set() }];
  // the path being walked: its nearest kept state and the slots it replaced since (see Checkpoint)
  let parentNow: Checkpoint | undefined;
  let writtenNow = new Set<number>();
  const readSlot = (key: number) => {
    if (writtenNow.has(key)) return;
    for (let cp = parentNow; cp; cp = cp.parent) {
      // mark_reg_read's shortcut: a state already marked had its parents marked then (up to a
      // writer), and the chain never changes; without it a long loop's reads cost its length each
      if (cp.read.has(key)) return;
      cp.read.add(key);
      if (cp.written.has(key)) return;
    }
  };
  env.slots.read = (frame, spi) => readSlot(frame * 64 + spi);
  env.slots.write = (frame, spi) => void writtenNow.add(frame * 64 + spi);
  // a helper's write to the stack: the slots it reached print after the call
  let innermost = 0;
  env.scratchSlot = (frame, spi) => frame === innermost && out.scratch(0, spi);
  // is_state_visited's add_new_state: instructions and jumps processed when a state was last kept
  let lastAdd = 0;
  let jumps = 0;
  let lastJumps = 0;
  const finish = (cp: Checkpoint | undefined) => {
    while (cp) {
      if (--cp.branches > 0) return;
      cp = cp.parent;
    }
  };
  while (work.length) {
    let { slot, vs, parent, from, history, written, logAt } = work.pop()!;
    // log_level 1 keeps only the path that failed: pop_stack rewinds the log to where the branch was pushed
    if (logLevel === 1 && logAt) out.rewind(logAt);
    // a path starts (or resumes from the stack) with everything to print
    out.scratchAll();
    parentNow = parent;
    writtenNow = written;
    // precision: the demands of an instruction walk back from before it
    // at log level 2 the walk back is told (mark_precise: lines), as the kernel tells it
    const told = (at: number) => (logLevel >= 2 ? { at, emit: (l: string) => out.emit(l) } : undefined);
    // propagate_precision: what was precise in the old state, named before its walk back
    const propagating = (regs: number, spis: readonly number[]) => {
      const names = [
        ...Array.from({ length: 10 }, (_, r) => r)
          .filter((r) => (regs >> r) & 1)
          .map((r) => `r${r}`),
        ...spis.map((spi) => `fp${-(spi + 1) * 8}`),
      ];
      if (names.length) out.emit(`frame ${vs.frames.length - 1}: propagating ${names.join(',')}`);
    };
    const settle = (at: number) => {
      for (const d of input.pending.splice(0)) demand(map, vs, history, parent, d.regs, d.spis, told(at));
    };
    let fromLine = logLevel >= 2 && from >= 0;
    let first = from >= 0;
    for (;;) {
      if (++stats.processed > input.limit) refuse(`BPF program is too large. Processed ${stats.processed} insn`, E2BIG);
      stats.slot = slot;
      innermost = vs.frames.length - 1;
      // a path taken from the stack is compared at its first instruction too (is_state_visited
      // runs before each prune point's instruction, "from 18 to 20: safe"), so the branches a
      // long run of jumps leaves waiting end at once instead of each walking to the end
      if (input.prunePoints[slot] || isCallbackCallInsn(map.at[slot])) {
        const list = visited.get(slot) ?? [];
        let pruned = false;
        // in a loop, keep a state only now and then (as the kernel does); an iterator's next always (mark_force_checkpoint)
        let add = jumps - lastJumps >= 2 && stats.processed - lastAdd >= 8;
        const iterNext = isIterNextInsn(map.at[slot]);
        // a helper that calls a callback (mark_force_checkpoint): each call comes back here, and converges as a loop
        const cbCall = isCallbackCallInsn(map.at[slot]);
        // may_goto: a checkpoint itself (mark_force_checkpoint)
        const mayGoto = isMayGoto(map.at[slot]!);
        // a loop converged at a forced checkpoint (may_goto, an iterator's next, a callback call)
        // on `sl`: what mattered there matters here (told in the log, but for callbacks), and the
        // states of the loop's body belong to it until it is done (update_loop_entry)
        const converged = (sl: Checkpoint, logged: boolean) => {
          const p = precisePart(sl.vs);
          if (p && logged && logLevel >= 2) propagating(p.regs & input.live[slot], p.spis);
          if (p) demand(map, vs, history, parent, p.regs, p.spis, logged ? told(slot) : undefined);
          for (let cp = parent; cp && cp !== sl; cp = cp.parent) if (!cp.loopEntry || isAncestor(sl, cp.loopEntry)) cp.loopEntry = sl;
        };
        for (let at = 0; at < list.length; at++) {
          const sl = list[at];
          if (sl.branches > 0) {
            // may_goto, back one iteration deeper in a state the loop's earlier pass includes
            // (RANGE_WITHIN): the loop converged (is_state_visited); otherwise the checks below
            if (mayGoto && depthOf(sl.vs) !== depthOf(vs) && covers(sl.vs, vs, slot, input.live, false, undefined, true)) {
              converged(sl, true);
              pruned = true;
              break;
            }
            // an iterator's next, back with the iterator active in a state the loop's first pass
            // includes: the loop converged (is_state_visited's iter_next case); never "infinite"
            // a callback called once more, in a state an earlier call includes (calls_callback: RANGE_WITHIN)
            if (cbCall) {
              if (covers(sl.vs, vs, slot, input.live, false, undefined, true)) {
                converged(sl, false);
                pruned = true;
                break;
              }
            } else if (iterNext) {
              if (iterActiveAt(vs) && covers(sl.vs, vs, slot, input.live, false, undefined, true)) {
                converged(sl, true);
                pruned = true;
                break;
              }
            } else {
              // a path that took a different number of may_goto fall-throughs is not looping forever
              if (depthOf(sl.vs) === depthOf(vs) && covers(sl.vs, vs, slot, input.live, true)) {
                throw new Refused(EINVAL, `infinite loop detected at insn ${slot}`, [
                  `cur state: ${stateText(vs)}`,
                  `old state: ${stateText(sl.vs)}`,
                ]);
              }
              if (jumps - lastJumps < 20 && stats.processed - lastAdd < 100) add = false;
            }
          } else if (
            // a state of a loop still being walked: its read marks are not final, scalars compare by range (force_exact)
            sl.loopEntry && sl.loopEntry.branches > 0
              ? covers(sl.vs, vs, slot, input.live, false, undefined, true)
              : covers(sl.vs, vs, slot, input.live, false, sl.read)
          ) {
            sl.hits++;
            // what the old state's paths read, this path reads (propagate_liveness)
            for (const key of sl.read) readSlot(key);
            // what mattered from the old state matters on this path too (propagate_precision)
            const p = precisePart(sl.vs);
            if (p && logLevel >= 2) propagating(p.regs & input.live[slot], p.spis);
            if (p) demand(map, vs, history, parent, p.regs, p.spis, told(slot));
            else demand(map, vs, [{ slot, frames: true }], parent, 0);
            pruned = true;
            break;
          }
          // is_state_visited's eviction: a state that keeps missing is dropped from the list
          // (it stays in its paths' parent chains); this is what keeps a loop that never
          // converges from comparing every state against thousands of its own iterations
          // (a forced checkpoint, an iterator's next or a callback call, counts every miss and, while
          // its loop is walked, may miss 64 times as often: evicted too early it would hinder convergence)
          const force = iterNext || cbCall || mayGoto;
          if (add || force) sl.misses++;
          const n = force && sl.branches > 0 ? FORCED_EVICT_MISSES : EVICT_MISSES;
          if (sl.misses > sl.hits * n + n) {
            list.splice(at--, 1);
            if (sl.branches === 0) stats.peakStates--;
          }
        }
        if (pruned) {
          if (logLevel) out.emit(first && logLevel >= 2 ? `\nfrom ${from} to ${slot}: safe` : `${slot}: safe`);
          finish(parent);
          break;
        }
        if (add || iterNext || cbCall || mayGoto) {
          const cp: Checkpoint = {
            vs: cloneState(vs),
            branches: 1,
            parent,
            history,
            read: new Set(),
            written: writtenNow,
            hits: 0,
            misses: 0,
          };
          list.push(cp);
          visited.set(slot, list);
          parent = cp;
          parentNow = cp;
          history = [];
          writtenNow = new Set();
          lastAdd = stats.processed;
          lastJumps = jumps;
          stats.totalStates++;
          stats.peakStates++;
          stats.maxStatesPerInsn = Math.max(stats.maxStatesPerInsn, list.length);
        }
      }
      first = false;
      const i = map.at[slot]!;
      input.seen[slot] = 1;
      legal(i, slot);
      if (logLevel) {
        // log_level 2, a path taken from the stack: its whole state first
        if (fromLine) out.emit(`\nfrom ${from} to ${slot}: ${stateText(vs)}`);
        fromLine = false;
        // what the instruction before touched, after it (`; R1=ctx() R2=pkt(r=0)`), or the state (`0: R1=ctx() R10=fp0`)
        out.insnState(slot, vs);
        linfo(slot);
        out.insn(insnText(slot, i));
      }
      const wrote = () => out.scratch(touched(i), undefined);
      const cls = opClass(i.opcode);
      if (cls === Class.BPF_JMP || cls === Class.BPF_JMP32) jumps++;
      const op = i.opcode & 0xf0;
      if (cls !== Class.BPF_JMP && cls !== Class.BPF_JMP32) {
        const spi = stackSlotOf(vs, i);
        const zeroSpill = logLevel >= 2 ? zeroStackStore(vs, i) : undefined;
        // bpf_gen_ld_abs's hidden exit: in a called function, where LD_ABS/LD_IND fails the
        // function returns 0 to its caller; that path waits on the stack (check_ld_abs, 6.18)
        const ldFails = cls === Class.BPF_LD && i.opcode !== LDDW && vs.frames.length > 1 ? cloneState(vs) : undefined;
        step(vs, i, env, slot);
        if (ldFails) {
          cur(ldFails).regs[0] = constReg(0n);
          const to = exit(ldFails, env);
          if (parent) parent.branches++;
          work.push({
            slot: to,
            vs: ldFails,
            parent,
            from: slot,
            history: [...history, { slot }],
            written: new Set(writtenNow),
            logAt: out.pos(),
          });
        }
        settle(slot);
        // check_stack_write_fixed_off: a known zero stored not as a spill asks for its precision
        // (mark_chain_precision, told in the log); bpfbox's rules do not ask it, so this is told only
        if (zeroSpill !== undefined) demand(map, cloneState(vs), history, undefined, 1 << zeroSpill, [], told(slot));
        history.push(spi === undefined ? { slot } : { slot, spi });
        out.scratch(touched(i), spi);
        slot += i.opcode === LDDW ? 2 : 1;
        continue;
      }
      if (op === JmpOp.BPF_EXIT) {
        wrote();
        const depth = vs.frames.length;
        const to = exit(vs, env);
        settle(slot);
        if (to < 0) {
          finish(parent);
          break;
        }
        history.push({ slot, frames: vs.frames.length !== depth });
        slot = to;
        continue;
      }
      if (op === JmpOp.BPF_CALL) {
        const depth = vs.frames.length;
        const at = slot;
        // an iterator's next: the path where it has an element waits on the stack (process_iter_next_call)
        const active = isIterNextInsn(i) ? cloneState(vs) : undefined;
        const iterPtr = cur(vs).regs[1];
        const queue: CallbackPath[] = [];
        slot = call(vs, i, slot, input, queue);
        // a callback helper: the callback's path waits on the stack (push_callback_call); it comes back to this call
        for (const q of queue) {
          if (parent) parent.branches++;
          work.push({
            slot: q.slot,
            vs: q.vs,
            parent,
            from: at,
            history: [...history, { slot: at, frames: true }],
            written: new Set(writtenNow),
            logAt: out.pos(),
          });
        }
        if (active) {
          iterDrain(vs, iterPtr);
          const queued = iterNextActive(active, env);
          if (queued) {
            // the same next's state one pass of the loop before (find_prev_entry): what changed since, imprecise, is widened
            const here = visited.get(at) ?? [];
            let prev = parent?.parent;
            while (prev && !(prev.branches > 0 && here.includes(prev))) prev = prev.parent;
            if (prev) widenImprecise(prev.vs, queued);
            if (parent) parent.branches++;
            work.push({
              slot,
              vs: queued,
              parent,
              from: at,
              history: [...history, { slot: at }],
              written: new Set(writtenNow),
              logAt: out.pos(),
            });
          }
        }
        settle(at);
        history.push({ slot: at, frames: vs.frames.length !== depth });
        wrote();
        continue;
      }
      const flow = flowOf(map, slot);
      if (op === JmpOp.BPF_JA) {
        history.push({ slot });
        slot = flow.next[0];
        continue;
      }
      const [fall, target] = flow.next;
      if (isMayGoto(i)) {
        // check_cond_jmp_op, BPF_JCOND: the fall-through (one more iteration) waits on the stack one
        // may_goto deeper, its imprecise scalars widened against this may_goto's state one pass
        // before (find_prev_entry, widen_imprecise_scalars); this path goes on at the target
        const queued = cloneState(vs);
        queued.mayGotoDepth = depthOf(vs) + 1;
        const here = visited.get(slot) ?? [];
        let prev = parent?.parent;
        while (prev && !(prev.branches > 0 && here.includes(prev))) prev = prev.parent;
        if (prev) widenImprecise(prev.vs, queued);
        history.push({ slot });
        if (parent) parent.branches++;
        work.push({ slot: fall, vs: queued, parent, from: slot, history: [...history], written: new Set(writtenNow), logAt: out.pos() });
        if (work.length > JMP_SEQ_LIMIT) refuse(`The sequence of ${work.length} jumps is too complex.`, E2BIG);
        slot = target;
        continue;
      }
      let linked: LinkedRegs | undefined;
      env.linked = (l) => void (linked = l.entries.length > 1 ? l : undefined);
      const sides = branch(vs, i, cls === Class.BPF_JMP ? 64 : 32, env, input.live[slot]);
      settle(slot);
      history.push(linked ? { slot, linked } : { slot });
      wrote();
      // the target waits on the stack, the fall-through goes on
      const onTaken = sides[0];
      const onFall = sides[1];
      if (onTaken && onFall) {
        if (parent) parent.branches++;
        const logAt = out.pos();
        work.push({ slot: target, vs: onTaken, parent, from: slot, history: [...history], written: new Set(writtenNow), logAt });
        // push_stack: the kernel counts the entry it pushes (one for the path being walked is not on its stack)
        if (work.length > JMP_SEQ_LIMIT) refuse(`The sequence of ${work.length} jumps is too complex.`, E2BIG);
        // check_cond_jmp_op: the fall-through's touched registers, on the jump's line
        if (logLevel) out.insnState(slot, onFall, true);
        vs = onFall;
        slot = fall;
      } else if (onFall || onTaken) {
        // check_cond_jmp_op, one side only: the state on the jump's line (print_insn_state)
        vs = (onFall ?? onTaken)!;
        if (logLevel) out.insnState(slot, vs, true);
        slot = onFall ? fall : target;
      } else {
        finish(parent);
        break;
      }
    }
  }
  // log_level 1 and the program accepted: no path failed, none is kept (the kernel's log then holds its summary only)
  if (logLevel === 1) log.length = 0;
}

/**
 * zeroStackStore: the register of a store of a known zero scalar to the innermost frame's stack
 * that is not a register spill (a 1-, 2- or 4-byte store, or one off the 8-byte grid): the
 * kernel's check_stack_write_fixed_off marks the slot's bytes STACK_ZERO and asks for the
 * register's precision there.
 */
function zeroStackStore(vs: VState, i: Instruction): number | undefined {
  if (opClass(i.opcode) !== Class.BPF_STX || (i.opcode & 0xe0) !== Mode.BPF_MEM) return undefined;
  const base = cur(vs).regs[i.dst];
  const value = cur(vs).regs[i.src];
  if (!base || !value || base.k !== 'stack' || base.frame !== vs.frames.length - 1 || value.k !== 'scalar' || value.s.umax !== 0n)
    return undefined;
  return (base.off + i.offset) % 8 !== 0 ? i.src : undefined;
}

/** stackSlotOf: the slot of the innermost frame's stack a load or store reaches through a stack pointer (before it runs). */
function stackSlotOf(vs: VState, i: Instruction): number | undefined {
  const cls = opClass(i.opcode);
  if (cls !== Class.BPF_LDX && cls !== Class.BPF_ST && cls !== Class.BPF_STX) return undefined;
  const base = cur(vs).regs[cls === Class.BPF_LDX ? i.src : i.dst];
  // a register past r10 (an atomic's fields are checked by step.ts, after its size): no slot
  if (!base || base.k !== 'stack' || base.frame !== vs.frames.length - 1) return undefined;
  const at = base.off + i.offset;
  return at < 0 && at >= -512 ? (-at - 1) >> 3 : undefined;
}

/** The kernel's names of instruction kinds in "... uses reserved fields". */
function reservedName(i: Instruction): string {
  const cls = opClass(i.opcode);
  const op = i.opcode & 0xf0;
  switch (cls) {
    case Class.BPF_LD:
      return i.opcode === LDDW ? 'BPF_LD_IMM64' : 'BPF_LD_[ABS|IND]';
    case Class.BPF_LDX:
      return 'BPF_LDX';
    case Class.BPF_ST:
      return 'BPF_ST';
    case Class.BPF_STX:
      return 'BPF_STX';
    default:
      if (op === JmpOp.BPF_JA) return 'BPF_JA';
      if (op === JmpOp.BPF_CALL) return 'BPF_CALL';
      if (op === JmpOp.BPF_EXIT) return 'BPF_EXIT';
      return 'BPF_JMP/JMP32';
  }
}

/**
 * legal: the instruction checks do_check makes as it meets each instruction: a known opcode
 * ("unknown opcode %02x"), registers that exist, reserved fields zero (ALU instructions are
 * checked field by field in step.ts, with their own messages).
 */
function legal(i: Instruction, slot: number): void {
  // check_cond_jmp_op (6.18): may_goto's other fields, before any register is checked
  if (i.opcode === MAY_GOTO && (i.src !== BPF_MAY_GOTO || i.dst !== 0 || i.imm !== 0n))
    refuse(`invalid may_goto imm ${Number(BigInt.asIntN(32, i.imm))}`, EINVAL);
  try {
    checkLegal(i, slot);
  } catch (e) {
    if (!(e instanceof InstructionError)) throw e;
    // 1- and 2-byte atomics: step.ts says "invalid atomic operand size", as check_atomic does
    if (opClass(i.opcode) === Class.BPF_STX && (i.opcode & 0xe0) === Mode.BPF_ATOMIC) return;
    const m = e.message;
    if (/unknown opcode/.test(m)) refuse(`unknown opcode ${i.opcode.toString(16).padStart(2, '0')}`, EINVAL);
    const bad = /invalid (dst|src) register r(\d+)/.exec(m);
    if (bad) refuse(`R${bad[2]} is invalid`, EINVAL);
    if (/frame pointer/.test(m)) return; // step.ts refuses it where the kernel does
    const cls = opClass(i.opcode);
    // ALU instructions: step.ts checks their fields as check_alu_op does (NEG with a source is an unknown opcode)
    if ((cls === Class.BPF_ALU || cls === Class.BPF_ALU64) && !/unknown opcode/.test(m)) return;
    refuse(`${reservedName(i)} uses reserved fields`, EINVAL);
  }
}

/** exit: return from the innermost frame (to the slot the caller goes on at) or end the path (-1). */
function exit(vs: VState, env: Env): number {
  const f = cur(vs);
  // a callee may return nothing (r0 then unset in the caller); the main function and callbacks may not
  // a struct_ops member returning void returns nothing (check_return_code returns before R0 is read)
  const main = vs.frames.length === 1 && !env.ops.voidReturn;
  const r0 = main || f.callback || f.global ? read(vs, 0) : f.regs[0];
  if (vs.lock) refuse('bpf_spin_unlock is missing', EINVAL);
  if (vs.frames.length === 1) {
    if (vs.refs.size) throw new Refused(EINVAL, 'BPF_EXIT instruction in main prog would lead to reference leak', [], [unreleased(vs)]);
    // an async callback returns 0 (check_return_code: in_async_callback_fn)
    if (f.async) checkReturnCode(r0, { minval: 0, maxval: 0 }, env, 'At async callback return');
    else if (env.ops.retvalRange) checkReturnCode(r0, env.ops.retvalRange, env);
    return -1;
  }
  if (f.callback) {
    if (r0.k !== 'scalar') return refuse(`At callback return the register R0 is not a known value (${r0.k})`, EINVAL);
    const [lo, hi] = f.callback;
    env.demand(1);
    if (r0.s.smin < BigInt(lo) || r0.s.smax > BigInt(hi))
      refuse(`At callback return the register R0 has smin=${r0.s.smin} smax=${r0.s.smax} should have been in [${lo}, ${hi}]`, EINVAL);
  }
  // check_return_code: a global function returns a scalar (and the caller knows nothing of it)
  if (f.global && r0.k !== 'scalar') refuse(`At subprogram exit the register R0 is not a scalar value (${kindName(r0)})`, EINVAL);
  if (r0.k === 'stack' && r0.frame === vs.frames.length - 1) refuse('cannot return stack pointer to the caller', EINVAL);
  vs.frames.pop();
  // pointers into the popped frame's stack die with it
  const depth = vs.frames.length;
  mapRegs(vs, (r) => (r.k === 'stack' && r.frame >= depth ? unknownScalar : r));
  const caller = cur(vs);
  // a callback goes back to the helper call, its caller's registers as they were there (prepare_func_exit)
  if (f.callback) return f.ret;
  caller.regs[0] = f.global || (r0.k === 'stack' && r0.frame >= depth) ? unknownScalar : r0;
  for (let r = 1; r <= 5; r++) caller.regs[r] = NONE;
  return f.ret;
}

/**
 * checkReturnCode: check_return_code's range check at the main program's exit: r0 must be a
 * scalar (precise: the decision depends on it) whose signed bounds lie in the type's range.
 */
const S64_MIN = -(1n << 63n);
const S64_MAX = (1n << 63n) - 1n;

function checkReturnCode(r0: Reg, range: RetvalRange, env: Env, where = 'At program exit'): void {
  if (r0.k !== 'scalar') return refuse(`${where} the register R0 is not a known value (${kindName(r0)})`, EINVAL);
  env.demand(1);
  const { smin, smax } = r0.s;
  if (smin >= BigInt(range.minval) && smax <= BigInt(range.maxval)) return;
  // verbose_invalid_scalar: the bounds that are not the type's extremes, or "unknown scalar value"
  const known = `${smin > S64_MIN ? ` smin=${smin}` : ''}${smax < S64_MAX ? ` smax=${smax}` : ''}`;
  refuse(`${where} the register R0 has${known || ' unknown scalar value'} should have been in [${range.minval}, ${range.maxval}]`, EINVAL);
}

/** call: a helper (checked against its prototype), a bpf-to-bpf call or a callback (a new frame); the slot to go on at. */
function call(vs: VState, i: Instruction, slot: number, input: WalkInput, queue: CallbackPath[]): number {
  // a stack pointer with a variable part as a kfunc's or a bpf-to-bpf call's argument is not modelled (helpers: helperMemory)
  for (let r = 1; r <= 5 && i.src !== 0; r++) {
    const a = cur(vs).regs[r];
    if (a.k === 'stack' && a.var) unsupported(`variable offsets on fp pointers passed to a call (R${r})`);
  }
  // callx (a call through a register) is not in the kernel's instruction set
  if (i.opcode & Source.BPF_X) refuse('BPF_CALL uses reserved fields', EINVAL);
  if (i.src === Pseudo.BPF_PSEUDO_CALL) {
    const target = slot + 1 + Number(i.imm);
    // a global function: its arguments checked against its BTF, and walked from what BTF says of them
    const g = input.globalFuncs.get(target);
    const models = g && argModels(g, input.env.progType);
    if (g && models) {
      enter(vs, target, slot + 1, globalCall(vs, g, models, input.env));
      vs.frames[vs.frames.length - 1] = { ...cur(vs), global: true };
      return target;
    }
    if (g) checkDynptrArgs(vs, g, input.env);
    return enter(
      vs,
      target,
      slot + 1,
      [1, 2, 3, 4, 5].map((r) => cur(vs).regs[r]),
    );
  }
  if (i.src === Pseudo.BPF_PSEUDO_KFUNC_CALL) {
    checkKfuncCall(vs, Number(i.imm), input.env, slot);
    return slot + 1;
  }
  if (i.src !== 0) return unsupported(`calls with src_reg ${i.src}`);
  // the state before the call, for the callback's path: the caller's r1-r5 as they were (push_stack
  // in push_callback_call copies it before check_helper_call resets them)
  const before = CALLBACK_HELPERS.has(Number(i.imm)) ? cloneState(vs) : undefined;
  const cb = checkHelperCall(vs, Number(i.imm), input.env, slot);
  if (!cb) return slot + 1;
  if (!input.funcInfo) refuse('missing btf func_info', EINVAL);
  // bpf_timer_set_callback: an async callback (push_async_cb) is a path of its own, its first
  // frame the callback's, with no references or lock of the caller's; the caller goes on
  if (Number(i.imm) === BPF_FUNC_timer_set_callback) {
    input.env.asyncCallbacks?.add(cb.target);
    const f = { ...frame(cb.target, -1, 0, cb.args), async: true };
    queue.push({ slot: cb.target, vs: { frames: [f], refs: new Map() } });
    return slot + 1;
  }
  const caller = cur(before!);
  const depth = caller.callbackDepth ?? 0;
  // bpf_loop: no more calls once the path has made as many as r1 can ask for (its umax, then precise)
  if (Number(i.imm) === BPF_FUNC_loop) {
    const n = caller.regs[1];
    input.env.demand(1 << 1);
    if (!(n.k === 'scalar' && BigInt(depth) < n.s.umax)) {
      cur(vs).callbackDepth = 0;
      return slot + 1;
    }
  }
  // the path that goes on has called the callback as often as it will: 0 more times
  cur(vs).callbackDepth = 0;
  caller.callbackDepth = depth + 1;
  enter(before!, cb.target, slot, cb.args, [0, 1]);
  queue.push({ slot: cb.target, vs: before! });
  return slot + 1;
}

/** CallbackPath: a callback's first instruction and the state it starts in. */
interface CallbackPath {
  readonly slot: number;
  readonly vs: VState;
}

/** The helpers that call a callback in the caller's frame: bpf_for_each_map_elem, bpf_loop, bpf_user_ringbuf_drain, bpf_find_vma. */
const BPF_FUNC_loop = 181;
const BPF_FUNC_timer_set_callback = 170;
const CALLBACK_HELPERS: ReadonlySet<number> = new Set([164, BPF_FUNC_loop, 209, 180]);

/** isCallbackCallInsn: a call of a helper that calls a callback (a forced checkpoint, where its calls converge). */
function isCallbackCallInsn(i: Instruction | undefined): boolean {
  return (
    !!i && opClass(i.opcode) === Class.BPF_JMP && (i.opcode & 0xf0) === JmpOp.BPF_CALL && i.src === 0 && CALLBACK_HELPERS.has(Number(i.imm))
  );
}

function enter(vs: VState, target: number, ret: number, args: readonly Reg[], callback?: readonly [number, number]): number {
  if (vs.frames.length >= MAX_CALL_FRAMES) refuse(`the call stack of ${vs.frames.length + 1} frames is too deep`, E2BIG);
  vs.frames.push(frame(target, ret, vs.frames.length, args, callback) as FrameState);
  return target;
}

/** readyStats: a fresh set of counters. */
export const readyStats = (): WalkStats => ({ processed: 0, totalStates: 0, peakStates: 0, maxStatesPerInsn: 0, slot: 0 });

/** depthOf: a state's may_goto_depth. */
const depthOf = (vs: VState): number => vs.mayGotoDepth ?? 0;

/** isIterNextInsn: a kfunc call of an iterator's next method (a forced prune point, where iterator loops converge). */
function isIterNextInsn(i: Instruction | undefined): boolean {
  return (
    !!i &&
    opClass(i.opcode) === Class.BPF_JMP &&
    (i.opcode & 0xf0) === JmpOp.BPF_CALL &&
    i.src === Pseudo.BPF_PSEUDO_KFUNC_CALL &&
    isIterNext(Number(i.imm))
  );
}

/** isAncestor: `a` is `b` or one of the states `b` came from. */
function isAncestor(a: Checkpoint, b: Checkpoint): boolean {
  for (let cp: Checkpoint | undefined = b; cp; cp = cp.parent) if (cp === a) return true;
  return false;
}
