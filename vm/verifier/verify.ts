import { ProgType } from '../../uapi/progType.js';
import { type SlotMap, slotMap } from '../cfg.js';
import type { Instruction } from '../instruction.js';
import { legalityTable } from '../legality.js';
import type { GlobalFunc } from './globalFunc.js';
import { checkKfuncStatic, isIterNext } from './kfuncs.js';
import { Class, JmpOp, LDDW, Mode, Pseudo, Source, opClass } from '../opcodes.js';
import { liveIn } from './prune.js';
import { E2BIG, EACCES, EBADF, EINVAL, ENOTSUPP, Refused, Unsupported } from './refuse.js';
import { type MapInfo, STACK_SIZE, type VState, entryState } from './state.js';
import type { VerifierOps } from './verifierOps.js';
import { COMPLEXITY_LIMIT, type LineInfo, MAX_CALL_FRAMES, type WalkStats, readyStats, walk } from './walk.js';
export type { LineInfo } from './walk.js';

/** VerifyOptions: the program type and its ops, its maps (indexed as the lddw immediates name them), log level. */
export interface VerifyOptions {
  readonly progType: number;
  /** What the verifier needs of the program type (bpf_verifier_ops); hooks/progTypes/verifierOpsOf.ts gives them. */
  readonly ops: VerifierOps;
  readonly maps?: readonly MapInfo[];
  readonly logLevel?: number;
  readonly limit?: number;
  /** BTF func_info came with the program (the kernel needs it for callbacks). */
  readonly funcInfo?: boolean;
  /**
   * The first slots of the functions whose BTF return type (func_info) is not a scalar (void, a
   * pointer, a struct): they may not hold LD_ABS/LD_IND or a tail call (check_btf_func).
   */
  readonly nonScalarReturn?: readonly number[];
  /** The state at entry (default: r1 the context, r10 the frame pointer). */
  readonly entry?: VState;
  /** The global functions (BTF_FUNC_GLOBAL) by first slot, with their BTF arguments (globalFunc.ts). */
  readonly globalFuncs?: ReadonlyMap<number, GlobalFunc>;
  /** BTF line info (the loader's line_info): the log shows each source line before its instructions, as the kernel's does. */
  readonly lineInfo?: readonly LineInfo[];
}

/** VerifyResult: accepted, or refused at `insn` with the kernel's errno and message; the log either way. */
export type VerifyResult = {
  readonly log: readonly string[];
  readonly stats: WalkStats;
  /** Stack bytes each function uses, by first slot. */
  readonly stackDepth: ReadonlyMap<number, number>;
  /** Some path writes packet memory through a packet pointer (see VerifiedProgram.writesPacket). */
  readonly writesPacket: boolean;
  /** 1 at each slot some path of the walk reached; 0 is dead code the kernel never runs (sanitize_dead_code). */
  readonly seen: Uint8Array;
} & (
  | { readonly ok: true }
  | { readonly ok: false; readonly insn: number; readonly errno: number; readonly message: string; readonly unsupported?: boolean }
);

interface Static {
  readonly prune: Uint8Array;
  /** Function starts (main, bpf-to-bpf callees, callbacks) and the functions each calls, call site by call site in instruction order. */
  readonly calls: Map<number, number[]>;
  /** The call sites of `calls` that are `lddw BPF_PSEUDO_FUNC` loads (`function/index`), not calls. */
  readonly funcRefs: Set<string>;
}

/** check_cfg and check_subprogs: jumps in range and on instructions, every instruction reachable, no falling off the end. */
function staticChecks(map: SlotMap, funcInfo: boolean, nonScalarReturn: readonly number[]): Static {
  const n = map.length;
  const prune = new Uint8Array(n);
  const starts = new Set<number>([0]);
  for (let s = 0; s < n; s++) {
    const i = map.at[s];
    if (!i) continue;
    const cls = opClass(i.opcode);
    if (i.opcode === LDDW && i.src === Pseudo.BPF_PSEUDO_FUNC) {
      const t = s + 1 + Number(BigInt.asIntN(32, i.imm));
      if (t < 0 || t >= n || !map.at[t]) throw new Refused(EINVAL, 'call to invalid destination');
      starts.add(t);
    }
    if (
      (cls === Class.BPF_JMP || cls === Class.BPF_JMP32) &&
      (i.opcode & 0xf0) === JmpOp.BPF_CALL &&
      i.src === Pseudo.BPF_PSEUDO_CALL &&
      !(i.opcode & Source.BPF_X)
    ) {
      const t = s + 1 + Number(i.imm);
      if (t < 0 || t >= n || !map.at[t]) throw new Refused(EINVAL, 'call to invalid destination');
      starts.add(t);
    }
  }
  const sorted = [...starts].sort((a, b) => a - b);
  const endOf = (f: number) => sorted.find((g) => g > f) ?? n;
  // each function ends with exit or a jump (check_subprogs)
  for (const f of sorted) {
    const e = endOf(f);
    const lastSlot = map.at[e - 1] ? e - 1 : e - 2;
    const li = map.at[lastSlot]!;
    const lop = li.opcode & 0xf0;
    const lcls = opClass(li.opcode);
    if (!((lcls === Class.BPF_JMP || lcls === Class.BPF_JMP32) && (lop === JmpOp.BPF_EXIT || lop === JmpOp.BPF_JA)))
      throw new Refused(EINVAL, 'last insn is not an exit or jmp');
  }
  const calls = new Map<number, number[]>(sorted.map((f) => [f, []]));
  const funcRefs = new Set<string>();
  const seen = new Uint8Array(n);
  for (const f of sorted) {
    prune[f] = 1;
    const stack = [f];
    const end = endOf(f);
    while (stack.length) {
      const s = stack.pop()!;
      if (seen[s]) continue;
      seen[s] = 1;
      const i = map.at[s]!;
      const cls = opClass(i.opcode);
      const op = i.opcode & 0xf0;
      const w = i.opcode === LDDW ? 2 : 1;
      // bpf_tail_call from a function other than the main one needs BTF (check_subprogs)
      if (f !== 0 && i.opcode === 0x85 && i.src === 0 && Number(i.imm) === 12 && !funcInfo)
        throw new Refused(EINVAL, 'tail_call is not allowed in subprogs without BTF');
      if (cls !== Class.BPF_JMP && cls !== Class.BPF_JMP32) {
        stack.push(s + w);
        continue;
      }
      if (op === JmpOp.BPF_EXIT) continue;
      if (op === JmpOp.BPF_CALL) {
        // an iterator's next is a checkpoint itself (mark_force_checkpoint)
        if (i.src === Pseudo.BPF_PSEUDO_KFUNC_CALL && isIterNext(Number(i.imm))) prune[s] = 1;
        prune[s + 1] = 1;
        stack.push(s + 1);
        continue;
      }
      const rel = cls === Class.BPF_JMP32 && op === JmpOp.BPF_JA ? Number(i.imm) : i.offset;
      const t = s + 1 + rel;
      if (t < f || t >= end) throw new Refused(EINVAL, `jump out of range from insn ${s} to ${t}`);
      if (!map.at[t]) throw new Refused(EINVAL, `jump into the middle of ldimm64 insn ${t - 1}`);
      prune[t] = 1;
      stack.push(t);
      if (op !== JmpOp.BPF_JA) {
        // visit_insn: a conditional jump is a prune point itself (its fall-through is not)
        prune[s] = 1;
        stack.push(s + 1);
      }
    }
  }
  // check_btf_func: subprograms that return no scalar (has_ld_abs, has_tail_call: any insn of theirs, reached or not)
  for (const f of nonScalarReturn) {
    if (f === 0 || !starts.has(f)) continue;
    for (let s = f; s < endOf(f); s++) {
      const i = map.at[s];
      if (!i) continue;
      const mode = i.opcode & 0xe0;
      if (opClass(i.opcode) === Class.BPF_LD && (mode === Mode.BPF_ABS || mode === Mode.BPF_IND))
        throw new Refused(EINVAL, "LD_ABS is only allowed in functions that return 'int'.");
      if (i.opcode === 0x85 && i.src === 0 && Number(i.imm) === 12)
        throw new Refused(EINVAL, "tail_call is only allowed in functions that return 'int'.");
    }
  }
  for (let s = 0; s < n; s++) if (map.at[s] && !seen[s]) throw new Refused(EINVAL, `unreachable insn ${s}`);
  // the call sites of each function in instruction order (check_max_stack_depth walks them so)
  for (const f of sorted) {
    for (let s = f; s < endOf(f); s++) {
      const i = map.at[s];
      if (!i) continue;
      if (i.opcode === LDDW && i.src === Pseudo.BPF_PSEUDO_FUNC) {
        funcRefs.add(`${f}/${calls.get(f)!.length}`);
        calls.get(f)!.push(s + 1 + Number(BigInt.asIntN(32, i.imm)));
      } else if (opClass(i.opcode) === Class.BPF_JMP && (i.opcode & 0xf0) === JmpOp.BPF_CALL && i.src === Pseudo.BPF_PSEUDO_CALL)
        calls.get(f)!.push(s + 1 + Number(i.imm));
    }
  }
  return { prune, calls, funcRefs };
}

/** TRACING_TYPES: is_tracing_prog_type (kprobe, tracepoint, perf_event, raw_tracepoint and its writable form). */
const TRACING_TYPES: readonly number[] = [
  ProgType.BPF_PROG_TYPE_KPROBE,
  ProgType.BPF_PROG_TYPE_TRACEPOINT,
  ProgType.BPF_PROG_TYPE_PERF_EVENT,
  ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT,
  ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE,
];

/**
 * mapProgCompatible: check_map_prog_compatibility's rules on the special fields of a map's value:
 * no bpf_spin_lock in socket filters or tracing programs, no bpf_timer in tracing programs.
 */
function mapProgCompatible(m: MapInfo, progType: number): void {
  const tracing = TRACING_TYPES.includes(progType);
  if (m.spinLock !== undefined && progType === ProgType.BPF_PROG_TYPE_SOCKET_FILTER)
    throw new Refused(EINVAL, 'socket filter progs cannot use bpf_spin_lock yet');
  if (m.spinLock !== undefined && tracing) throw new Refused(EINVAL, 'tracing progs cannot use bpf_spin_lock yet');
  if (m.timer !== undefined && tracing) throw new Refused(EINVAL, 'tracing progs cannot use bpf_timer yet');
}

/**
 * resolve: resolve_pseudo_ldimm64, before the walk: every opcode exists, every map an lddw names
 * exists and may be used by the program's type, and a direct value address (global data) lies
 * inside the value of a one-entry array.
 */
function resolve(insns: readonly Instruction[], maps: readonly MapInfo[], progType: number): void {
  for (const i of insns) {
    const atomic = opClass(i.opcode) === Class.BPF_STX && (i.opcode & 0xe0) === Mode.BPF_ATOMIC;
    if (!legalityTable.has(i.opcode) && !atomic) throw new Refused(EINVAL, `unknown opcode ${i.opcode.toString(16).padStart(2, '0')}`);
    if (i.opcode !== LDDW || (i.src !== Pseudo.BPF_PSEUDO_MAP_FD && i.src !== Pseudo.BPF_PSEUDO_MAP_VALUE)) continue;
    const n = Number(BigInt.asUintN(32, i.imm));
    const m = maps[n];
    if (!m) throw new Refused(EBADF, `fd ${n} is not pointing to valid bpf_map`);
    mapProgCompatible(m, progType);
    if (i.src === Pseudo.BPF_PSEUDO_MAP_FD || !m.array) continue;
    // array_map_direct_value_addr: one entry only (ENOTSUPP), the offset inside the value (EINVAL)
    const off = Number(BigInt.asUintN(32, i.imm >> 32n));
    if (m.maxEntries !== 1) throw new Refused(ENOTSUPP, `invalid access to map value pointer, value_size=${m.valueSize} off=${off}`);
    if (off >= m.valueSize) throw new Refused(EINVAL, `invalid access to map value pointer, value_size=${m.valueSize} off=${off}`);
  }
}

/**
 * checkStackDepth: check_max_stack_depth, after the walk: along every chain of calls from the main
 * function (call sites in instruction order, callbacks included) at most MAX_CALL_FRAMES frames
 * ("the call stack of 8 frames is too deep !", E2BIG: a recursion the walk saw end is refused
 * here) whose stacks (each rounded up to 16 bytes) fit in 512 (EACCES). The kernel walks with
 * an array of return points, not recursion; so does this, and a function entered again at the
 * same frame and combined depth as a walk already finished is not walked again (it would find
 * nothing new), which keeps the walk polynomial where the kernel's is exponential in the calls.
 * An async callback (a bpf_timer callback, `async`) is a root of its own: its stack does not add
 * to the function that names it with `lddw BPF_PSEUDO_FUNC`, only to one that calls it directly.
 */
function checkStackDepth(
  calls: Map<number, number[]>,
  depth: ReadonlyMap<number, number>,
  funcRefs: ReadonlySet<string>,
  async: ReadonlySet<number>,
): void {
  const round = (d: number) => Math.ceil(d / 16) * 16;
  const finished = new Set<string>();
  const key = (f: number, frame: number, before: number) => `${f}/${frame}/${before}`;
  /** A frame of the walk: its function, the stack bytes of the frames below it and with it, its next call site. */
  const frames: { f: number; before: number; total: number; next: number }[] = [];
  const enter = (f: number, before: number) => {
    const total = before + round(depth.get(f) ?? 0);
    if (total > STACK_SIZE) throw new Refused(EACCES, `combined stack size of ${frames.length + 1} calls is ${total}. Too large`);
    frames.push({ f, before, total, next: 0 });
  };
  for (const root of [0, ...async]) {
    enter(root, 0);
    walkFrom();
  }
  function walkFrom(): void {
    while (frames.length) {
      const top = frames[frames.length - 1];
      const sites = calls.get(top.f) ?? [];
      if (top.next >= sites.length) {
        finished.add(key(top.f, frames.length - 1, top.before));
        frames.pop();
        continue;
      }
      const at = top.next++;
      const g = sites[at];
      if (async.has(g) && funcRefs.has(`${top.f}/${at}`)) continue;
      if (finished.has(key(g, frames.length, top.total))) continue;
      if (frames.length >= MAX_CALL_FRAMES) throw new Refused(E2BIG, `the call stack of ${frames.length} frames is too deep !`);
      enter(g, top.total);
    }
  }
}

/**
 * verify: the verifier at BPF_PROG_LOAD, privileged (as bpftool as root): the static checks,
 * then the path walk (walk.ts), then the stack depth of call chains. The log follows the
 * kernel's shape for log_level 1 and 2, ending with "processed N insns".
 */
export function verify(insns: readonly Instruction[], options: VerifyOptions): VerifyResult {
  const log: string[] = [];
  const stats = readyStats();
  const stackDepth = new Map<number, number>();
  const effects = { writesPacket: false };
  /** is_async_cb: the functions bpf_timer_set_callback was given (walk.ts adds them). */
  const asyncCallbacks = new Set<number>();
  const logLevel = options.logLevel ?? 0;
  let id = 0;
  let details: readonly string[] = [];
  let before: readonly string[] = [];
  const done = (r: { ok: true } | { ok: false; insn: number; errno: number; message: string; unsupported?: boolean }): VerifyResult => {
    if (!r.ok) log.push(...before, r.message, ...details);
    log.push(
      `processed ${stats.processed} insns (limit ${COMPLEXITY_LIMIT}) max_states_per_insn ${stats.maxStatesPerInsn} total_states ${stats.totalStates} peak_states ${stats.peakStates} mark_read 0`,
    );
    return { ...r, log, stats, stackDepth, writesPacket: effects.writesPacket, seen };
  };
  let statics: Static;
  const map = slotMap(insns);
  const seen = new Uint8Array(map.length);
  try {
    resolve(insns, options.maps ?? [], options.progType);
    statics = staticChecks(map, options.funcInfo ?? false, options.nonScalarReturn ?? []);
    // add_subprog_and_kfunc: every kfunc call, reached or not, names a kfunc
    for (const i of map.at)
      if (i && (i.opcode & 0xf0) === JmpOp.BPF_CALL && opClass(i.opcode) === Class.BPF_JMP && i.src === Pseudo.BPF_PSEUDO_KFUNC_CALL)
        checkKfuncStatic(Number(i.imm));
  } catch (e) {
    // found before the walk: the log shows no instruction
    if (e instanceof Refused) return done({ ok: false, insn: -1, errno: e.errno, message: e.message });
    throw e;
  }
  let walked = false;
  const pending: { regs: number; spis: readonly number[] }[] = [];
  try {
    walk(
      {
        map,
        live: liveIn(map),
        prunePoints: statics.prune,
        limit: options.limit ?? COMPLEXITY_LIMIT,
        logLevel,
        log,
        lineInfo: [...(options.lineInfo ?? [])].sort((a, b) => a.insn - b.insn),
        funcInfo: options.funcInfo ?? false,
        pending,
        seen,
        globalFuncs: options.globalFuncs ?? new Map(),
        env: {
          progType: options.progType,
          ops: options.ops,
          maps: options.maps ?? [],
          stackDepth,
          asyncCallbacks,
          ptrKinds: new Map(),
          nextId: () => ++id,
          demand: (regs, spis = []) => void pending.push({ regs, spis }),
          slots: { read: () => undefined, write: () => undefined },
          effects,
        },
      },
      options.entry ?? entryState(),
      stats,
    );
    walked = true;
    checkStackDepth(statics.calls, stackDepth, statics.funcRefs, asyncCallbacks);
  } catch (e) {
    // found after the walk: the log (level 1) kept no path
    if (e instanceof Refused) {
      details = e.details;
      before = e.before;
      return done({ ok: false, insn: walked ? -1 : stats.slot, errno: e.errno, message: e.message });
    }
    if (e instanceof Unsupported)
      return done({
        ok: false,
        insn: stats.slot,
        errno: ENOTSUPP,
        message: `bpfbox's verifier does not model ${e.message} (insn ${stats.slot})`,
        unsupported: true,
      });
    throw e;
  }
  return done({ ok: true });
}
