import { disassemble } from '../disassembler.js';
import { InstructionError } from '../errors.js';
import { checkLegal } from '../legality.js';
import type { Instruction } from '../instruction.js';
import { type SlotMap, flowOf } from '../cfg.js';
import { Class, JmpOp, LDDW, Mode, Pseudo, Source, opClass } from '../opcodes.js';
import { checkHelperCall, unreleased } from './helpers.js';
import { regText, stateText } from './log.js';

/** LineInfo: the source line an instruction (and those after it, up to the next entry) comes from (BTF line_info). */
export interface LineInfo {
  readonly insn: number;
  readonly line: string;
  readonly file?: string;
  readonly lineNum?: number;
}
import type { Env } from './memory.js';
import { type Chain, type HistoryEntry, demand, precisePart } from './precision.js';
import { branch } from './jumps.js';
import { covers } from './prune.js';
import { E2BIG, EINVAL, Refused, refuse, unsupported } from './refuse.js';
import { type FrameState, NONE, type Reg, type VState, cloneState, frame, mapRegs, unknownScalar } from './state.js';
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
}

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
    log.push(`; ${li[at].line.trimStart()} @ ${file}:${li[at].lineNum ?? 0}`);
  };
  const visited = new Map<number, Checkpoint[]>();
  const work: { slot: number; vs: VState; parent: Checkpoint | undefined; from: number; history: HistoryEntry[]; written: Set<number> }[] =
    [{ slot: 0, vs: entry, parent: undefined, from: -1, history: [], written: new Set() }];
  // the path being walked: its nearest kept state and the slots it replaced since (see Checkpoint)
  let parentNow: Checkpoint | undefined;
  let writtenNow = new Set<number>();
  const readSlot = (key: number) => {
    if (writtenNow.has(key)) return;
    for (let cp = parentNow; cp; cp = cp.parent) {
      cp.read.add(key);
      if (cp.written.has(key)) return;
    }
  };
  env.slots.read = (frame, spi) => readSlot(frame * 64 + spi);
  env.slots.write = (frame, spi) => void writtenNow.add(frame * 64 + spi);
  let lastAdd = 0;
  const finish = (cp: Checkpoint | undefined) => {
    while (cp) {
      if (--cp.branches > 0) return;
      cp = cp.parent;
    }
  };
  while (work.length) {
    let { slot, vs, parent, from, history, written } = work.pop()!;
    parentNow = parent;
    writtenNow = written;
    // precision: the demands of an instruction walk back from before it
    const settle = () => {
      for (const d of input.pending.splice(0)) demand(map, vs, history, parent, d.regs, d.spis);
    };
    // log_level 1 keeps only the path that failed (the kernel rewinds its log at each path's end)
    const mark = log.length;
    const pathDone = () => {
      if (logLevel === 1) log.length = mark;
    };
    if (logLevel && from >= 0) log.push(`from ${from} to ${slot}: ${stateText(vs)}`);
    else if (logLevel >= 2) log.push(`${slot}: ${stateText(vs)}`);
    let first = from >= 0;
    for (;;) {
      if (++stats.processed > input.limit) refuse(`BPF program is too large. Processed ${stats.processed} insn`, E2BIG);
      stats.slot = slot;
      if (input.prunePoints[slot] && !first) {
        const list = visited.get(slot) ?? [];
        let pruned = false;
        let looping = false;
        for (const sl of list) {
          if (sl.branches > 0) {
            looping = true;
            if (covers(sl.vs, vs, slot, input.live, true)) {
              throw new Refused(EINVAL, `infinite loop detected at insn ${slot}`, [
                `cur state: ${stateText(vs)}`,
                `old state: ${stateText(sl.vs)}`,
              ]);
            }
            continue;
          }
          if (covers(sl.vs, vs, slot, input.live, false, sl.read)) {
            // what the old state's paths read, this path reads (propagate_liveness)
            for (const key of sl.read) readSlot(key);
            // what mattered from the old state matters on this path too (propagate_precision)
            const p = precisePart(sl.vs);
            if (p) demand(map, vs, history, parent, p.regs, p.spis);
            else demand(map, vs, [{ slot, frames: true }], parent, 0);
            pruned = true;
            break;
          }
        }
        if (pruned) {
          if (logLevel) log.push(`${slot}: safe`);
          finish(parent);
          pathDone();
          break;
        }
        // in a loop, keep a state only now and then (as the kernel does)
        if (!looping || stats.processed - lastAdd >= 100) {
          const cp: Checkpoint = { vs: cloneState(vs), branches: 1, parent, history, read: new Set(), written: writtenNow };
          list.push(cp);
          visited.set(slot, list);
          parent = cp;
          parentNow = cp;
          history = [];
          writtenNow = new Set();
          lastAdd = stats.processed;
          stats.totalStates++;
          stats.peakStates++;
          stats.maxStatesPerInsn = Math.max(stats.maxStatesPerInsn, list.length);
        }
      }
      first = false;
      const i = map.at[slot]!;
      legal(i, slot);
      const text = logLevel ? `${slot}: (${i.opcode.toString(16).padStart(2, '0')}) ${disassemble(i)}` : '';
      if (logLevel) {
        linfo(slot);
        log.push(text);
      }
      // log_level 2: what the instruction wrote, after it ("; R0_w=0")
      const before = logLevel >= 2 ? [...cur(vs).regs] : undefined;
      const wrote = () => {
        if (!before) return;
        const f = cur(vs);
        const changed = f.regs.flatMap((r, n) => (r !== before[n] && r.k !== 'none' ? [`R${n}_w=${regText(r)}`] : []));
        if (changed.length) log[log.length - 1] = `${text.padEnd(37)} ; ${changed.join(' ')}`;
      };
      const cls = opClass(i.opcode);
      const op = i.opcode & 0xf0;
      if (cls !== Class.BPF_JMP && cls !== Class.BPF_JMP32) {
        const spi = stackSlotOf(vs, i);
        step(vs, i, env, slot);
        settle();
        history.push(spi === undefined ? { slot } : { slot, spi });
        wrote();
        slot += i.opcode === LDDW ? 2 : 1;
        continue;
      }
      if (op === JmpOp.BPF_EXIT) {
        const depth = vs.frames.length;
        const to = exit(vs, env);
        settle();
        if (to < 0) {
          finish(parent);
          pathDone();
          break;
        }
        history.push({ slot, frames: vs.frames.length !== depth });
        slot = to;
        continue;
      }
      if (op === JmpOp.BPF_CALL) {
        const depth = vs.frames.length;
        const at = slot;
        slot = call(vs, i, slot, input);
        settle();
        history.push({ slot: at, frames: vs.frames.length !== depth });
        if (vs.frames.length === depth) wrote();
        else if (logLevel >= 2) log.push(`${slot}: ${stateText(vs)}`);
        continue;
      }
      const flow = flowOf(map, slot);
      if (op === JmpOp.BPF_JA) {
        history.push({ slot });
        slot = flow.next[0];
        continue;
      }
      const [fall, target] = flow.next;
      const sides = branch(vs, i, cls === Class.BPF_JMP ? 64 : 32, env);
      settle();
      history.push({ slot });
      // the target waits on the stack, the fall-through goes on
      const onTaken = sides[0];
      const onFall = sides[1];
      if (onTaken && onFall) {
        if (parent) parent.branches++;
        work.push({ slot: target, vs: onTaken, parent, from: slot, history: [...history], written: new Set(writtenNow) });
        vs = onFall;
        slot = fall;
      } else if (onFall) ((vs = onFall), (slot = fall));
      else if (onTaken) ((vs = onTaken), (slot = target));
      else {
        finish(parent);
        pathDone();
        break;
      }
    }
  }
}

/** stackSlotOf: the slot of the innermost frame's stack a load or store reaches through a stack pointer (before it runs). */
function stackSlotOf(vs: VState, i: Instruction): number | undefined {
  const cls = opClass(i.opcode);
  if (cls !== Class.BPF_LDX && cls !== Class.BPF_ST && cls !== Class.BPF_STX) return undefined;
  const base = cur(vs).regs[cls === Class.BPF_LDX ? i.src : i.dst];
  if (base.k !== 'stack' || base.frame !== vs.frames.length - 1) return undefined;
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
  const r0 = vs.frames.length === 1 || f.callback ? read(vs, 0) : f.regs[0];
  if (vs.lock) refuse('bpf_spin_unlock is missing', EINVAL);
  if (vs.frames.length === 1) {
    if (vs.refs.size) throw new Refused(EINVAL, 'BPF_EXIT instruction in main prog would lead to reference leak', [], [unreleased(vs)]);
    // check_return_code: none of the types bpfbox models has a range for r0
    if (env.ops.retvalRange) unsupported('return value ranges at program exit (check_return_code)');
    return -1;
  }
  if (f.callback) {
    if (r0.k !== 'scalar') return refuse(`At callback return the register R0 is not a known value (${r0.k})`, EINVAL);
    const [lo, hi] = f.callback;
    env.demand(1);
    if (r0.s.smin < BigInt(lo) || r0.s.smax > BigInt(hi))
      refuse(`At callback return the register R0 has smin=${r0.s.smin} smax=${r0.s.smax} should have been in [${lo}, ${hi}]`, EINVAL);
  }
  if (r0.k === 'stack' && r0.frame === vs.frames.length - 1) refuse('cannot return stack pointer to the caller', EINVAL);
  vs.frames.pop();
  // pointers into the popped frame's stack die with it
  const depth = vs.frames.length;
  mapRegs(vs, (r) => (r.k === 'stack' && r.frame >= depth ? unknownScalar : r));
  const caller = cur(vs);
  if (!f.callback) caller.regs[0] = r0.k === 'stack' && r0.frame >= depth ? unknownScalar : r0;
  for (let r = 1; r <= 5; r++) caller.regs[r] = NONE;
  return f.ret;
}

/** call: a helper (checked against its prototype), a bpf-to-bpf call or a callback (a new frame); the slot to go on at. */
function call(vs: VState, i: Instruction, slot: number, input: WalkInput): number {
  // callx (a call through a register) is not in the kernel's instruction set
  if (i.opcode & Source.BPF_X) refuse('BPF_CALL uses reserved fields', EINVAL);
  if (i.src === Pseudo.BPF_PSEUDO_CALL) {
    const target = slot + 1 + Number(i.imm);
    return enter(
      vs,
      target,
      slot + 1,
      [1, 2, 3, 4, 5].map((r) => cur(vs).regs[r]),
    );
  }
  if (i.src !== 0) return unsupported('calls of kernel functions (kfuncs)');
  const cb = checkHelperCall(vs, Number(i.imm), input.env, slot);
  if (!cb) return slot + 1;
  if (!input.funcInfo) refuse('missing btf func_info', EINVAL);
  return enter(vs, cb.target, slot + 1, cb.args, [0, 1]);
}

function enter(vs: VState, target: number, ret: number, args: readonly Reg[], callback?: readonly [number, number]): number {
  if (vs.frames.length >= MAX_CALL_FRAMES) refuse(`the call stack of ${vs.frames.length + 1} frames is too deep`, E2BIG);
  vs.frames.push(frame(target, ret, vs.frames.length, args, callback) as FrameState);
  return target;
}

/** readyStats: a fresh set of counters. */
export const readyStats = (): WalkStats => ({ processed: 0, totalStates: 0, peakStates: 0, maxStatesPerInsn: 0, slot: 0 });
