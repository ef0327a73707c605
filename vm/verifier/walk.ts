import { disassemble } from '../disassembler.js';
import { InstructionError } from '../errors.js';
import { checkLegal } from '../legality.js';
import type { Instruction } from '../instruction.js';
import { type SlotMap, flowOf } from '../cfg.js';
import { Class, JmpOp, LDDW, Mode, Pseudo, Source, opClass } from '../opcodes.js';
import { checkHelperCall, unreleased } from './helpers.js';
import { type Scratched, stateText } from './log.js';

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
import { type FrameState, NONE, type Reg, type VState, cloneState, frame, kindName, mapRegs, unknownScalar } from './state.js';
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
    let { slot, vs, parent, from, history, written, logAt } = work.pop()!;
    // log_level 1 keeps only the path that failed: pop_stack rewinds the log to where the branch was pushed
    if (logLevel === 1 && logAt) out.rewind(logAt);
    // a path starts (or resumes from the stack) with everything to print
    out.scratchAll();
    parentNow = parent;
    writtenNow = written;
    // precision: the demands of an instruction walk back from before it
    const settle = () => {
      for (const d of input.pending.splice(0)) demand(map, vs, history, parent, d.regs, d.spis);
    };
    let fromLine = logLevel >= 2 && from >= 0;
    let first = from >= 0;
    for (;;) {
      if (++stats.processed > input.limit) refuse(`BPF program is too large. Processed ${stats.processed} insn`, E2BIG);
      stats.slot = slot;
      // a path resumed from the stack at a jump target: the kernel checks states at the jump itself
      // (its prune point), where this one came from; what it finds there that matters is a loop that
      // came back to a state still being explored, equal to this one (verifier_cfg.c conditional_loop)
      if (input.prunePoints[slot] && first) {
        for (const sl of visited.get(slot) ?? [])
          if (sl.branches > 0 && covers(sl.vs, vs, slot, input.live, true))
            throw new Refused(EINVAL, `infinite loop detected at insn ${slot}`, [
              `cur state: ${stateText(vs)}`,
              `old state: ${stateText(sl.vs)}`,
            ]);
      }
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
          if (logLevel) out.emit(`${slot}: safe`);
          finish(parent);
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
      if (logLevel) {
        // log_level 2, a path taken from the stack: its whole state first
        if (fromLine) out.emit(`\nfrom ${from} to ${slot}: ${stateText(vs)}`);
        fromLine = false;
        // what the instruction before touched, after it (`; R1=ctx() R2=pkt(r=0)`), or the state (`0: R1=ctx() R10=fp0`)
        out.insnState(slot, vs);
        linfo(slot);
        out.insn(`${slot}: (${i.opcode.toString(16).padStart(2, '0')}) ${disassemble(i)}`);
      }
      const wrote = () => out.scratch(touched(i), undefined);
      const cls = opClass(i.opcode);
      const op = i.opcode & 0xf0;
      if (cls !== Class.BPF_JMP && cls !== Class.BPF_JMP32) {
        const spi = stackSlotOf(vs, i);
        step(vs, i, env, slot);
        settle();
        history.push(spi === undefined ? { slot } : { slot, spi });
        out.scratch(touched(i), spi);
        slot += i.opcode === LDDW ? 2 : 1;
        continue;
      }
      if (op === JmpOp.BPF_EXIT) {
        wrote();
        const depth = vs.frames.length;
        const to = exit(vs, env);
        settle();
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
        slot = call(vs, i, slot, input);
        settle();
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
      const sides = branch(vs, i, cls === Class.BPF_JMP ? 64 : 32, env);
      settle();
      history.push({ slot });
      wrote();
      // the target waits on the stack, the fall-through goes on
      const onTaken = sides[0];
      const onFall = sides[1];
      if (onTaken && onFall) {
        if (parent) parent.branches++;
        const logAt = out.pos();
        work.push({ slot: target, vs: onTaken, parent, from: slot, history: [...history], written: new Set(writtenNow), logAt });
        // check_cond_jmp_op: the fall-through's touched registers, on the jump's line
        if (logLevel) out.insnState(slot, onFall, true);
        vs = onFall;
        slot = fall;
      } else if (onFall) ((vs = onFall), (slot = fall));
      else if (onTaken) ((vs = onTaken), (slot = target));
      else {
        finish(parent);
        break;
      }
    }
  }
  // log_level 1 and the program accepted: no path failed, none is kept (the kernel's log then holds its summary only)
  if (logLevel === 1) log.length = 0;
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
    if (env.ops.retvalRange) checkReturnCode(r0, env.ops.retvalRange, env);
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

/**
 * checkReturnCode: check_return_code's range check at the main program's exit: r0 must be a
 * scalar (precise: the decision depends on it) whose signed bounds lie in the type's range.
 */
const S64_MIN = -(1n << 63n);
const S64_MAX = (1n << 63n) - 1n;

function checkReturnCode(r0: Reg, range: RetvalRange, env: Env): void {
  if (r0.k !== 'scalar') return refuse(`At program exit the register R0 is not a known value (${kindName(r0)})`, EINVAL);
  env.demand(1);
  const { smin, smax } = r0.s;
  if (smin >= BigInt(range.minval) && smax <= BigInt(range.maxval)) return;
  // verbose_invalid_scalar: the bounds that are not the type's extremes, or "unknown scalar value"
  const known = `${smin > S64_MIN ? ` smin=${smin}` : ''}${smax < S64_MAX ? ` smax=${smax}` : ''}`;
  refuse(
    `At program exit the register R0 has${known || ' unknown scalar value'} should have been in [${range.minval}, ${range.maxval}]`,
    EINVAL,
  );
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

/** LogPos: a place in the log (the kernel's log end_pos): lines kept, and how much of the last one. */
interface LogPos {
  readonly lines: number;
  readonly chars: number;
}

const ALL_REGS = 0x7ff;
const ALL_SLOTS = (1n << 64n) - 1n;

/**
 * touched: the registers an instruction names (check_reg_arg marks them scratched, read or
 * written): destination and source register, r6 and r0-r5 for packet loads, r0-r5 for calls.
 */
function touched(i: Instruction): number {
  const cls = opClass(i.opcode);
  const op = i.opcode & 0xf0;
  const x = (i.opcode & Source.BPF_X) !== 0;
  switch (cls) {
    case Class.BPF_LD:
      if (i.opcode === LDDW) return 1 << i.dst;
      return (1 << 6) | 0x3f | ((i.opcode & 0xe0) === Mode.BPF_IND ? 1 << i.src : 0);
    case Class.BPF_LDX:
    case Class.BPF_STX:
      return (1 << i.dst) | (1 << i.src);
    case Class.BPF_ST:
      return 1 << i.dst;
    case Class.BPF_ALU:
    case Class.BPF_ALU64:
      return (1 << i.dst) | (x ? 1 << i.src : 0);
    default:
      if (op === JmpOp.BPF_CALL) return 0x3f;
      if (op === JmpOp.BPF_EXIT) return 1;
      if (op === JmpOp.BPF_JA) return 0;
      return (1 << i.dst) | (x ? 1 << i.src : 0);
  }
}

/**
 * LogWriter: the verifier log as the kernel writes it: the instruction, then on its line what
 * it touched (print_insn_state, aligned as vlog_alignment does), or on a line of its own
 * (`7: R0=...`) when something was printed in between; a rewind to a branch's position cuts
 * the line it lands in (pop_stack's bpf_vlog_reset), and what follows goes on that line.
 */
class LogWriter {
  /** The instruction line last printed, while nothing has been printed after it (prev_log_pos). */
  #insnAt: LogPos | undefined;
  /** The last line is open: the next text goes on it. */
  #open = false;
  readonly #scratched: Scratched = { regs: ALL_REGS, slots: ALL_SLOTS };

  readonly log: string[];

  constructor(log: string[]) {
    this.log = log;
  }

  /** emit: a line (a leading newline ends an open line first, or makes an empty one). */
  emit(text: string): void {
    if (text.startsWith('\n')) {
      if (!this.#open) this.log.push('');
      this.#open = false;
      text = text.slice(1);
    }
    if (this.#open) this.log[this.log.length - 1] += text;
    else this.log.push(text);
    this.#open = false;
  }

  insn(text: string): void {
    this.emit(text);
    this.#insnAt = { lines: this.log.length, chars: text.length };
  }

  pos(): LogPos {
    // the position after the last line's newline
    return { lines: this.log.length, chars: (this.log[this.log.length - 1] ?? '').length + 1 };
  }

  rewind(p: LogPos): void {
    this.log.length = p.lines;
    const last = this.log[p.lines - 1];
    // the line was extended after the position was taken: cut it there, and it stays open
    if (last !== undefined && last.length >= p.chars) {
      this.log[p.lines - 1] = last.slice(0, p.chars);
      this.#open = true;
    } else this.#open = false;
    this.#insnAt = undefined;
  }

  scratch(regs: number, slot: number | undefined): void {
    this.#scratched.regs |= regs;
    if (slot !== undefined) this.#scratched.slots |= 1n << BigInt(slot);
  }

  scratchAll(): void {
    this.#scratched.regs = ALL_REGS;
    this.#scratched.slots = ALL_SLOTS;
  }

  /** insnState: print_insn_state, when something was touched (`always`: check_cond_jmp_op prints regardless). */
  insnState(slot: number, vs: VState, always = false): void {
    const sc = this.#scratched;
    if (!always && !sc.regs && !sc.slots) return;
    const state = stateText(vs, sc);
    const text = state ? ` ${state}` : '';
    const at = this.#insnAt;
    const last = this.log.length - 1;
    if (at && !this.#open && at.lines === this.log.length && this.log[last].length === at.chars) {
      // vlog_alignment: the ';' at a multiple of 8, column 38 at least
      const pos = at.chars + 1;
      const width = Math.ceil(Math.max(pos + 4, 40) / 8) * 8 - pos - 1;
      this.log[last] += `${' '.repeat(width)};${text}`;
    } else this.emit(`${slot}:${text}`);
    sc.regs = 0;
    sc.slots = 0n;
  }
}
