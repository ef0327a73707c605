import { type SlotMap, flowOf } from '../cfg.js';
import { CALLBACK_TAG } from '../helpers.js';
import type { Instruction } from '../instruction.js';
import {
  BPF_FUNC_tail_call,
  BPF_MAX_LOOPS,
  Class,
  JmpOp,
  LDDW,
  MAX_BPF_STACK,
  MAX_CALL_FRAMES,
  Mode,
  Pseudo,
  Size,
  Source,
  isMayGoto,
  opClass,
} from '../opcodes.js';
import type { ArrayLayout, DescriptorLayout, LpmLayout } from '../engine.js';
import type { CheckedProgram } from '../program.js';
import { alu, atomic } from './arith.js';
import { inlineArrayLookup, inlineDynamicLookup, inlineLpmLookup, inlineTailCall } from './inline.js';
import { BPF_FUNC_loop, callbackTargets, inlineBpfLoop } from './inlineLoop.js';
import { type Construct, stackify } from './stackify.js';
import { Access, Fn, G, LOOPS, PC, REG, Stop, T, T32 } from './layout.js';
import { Code, type FuncDef, I32, I64, type ModuleDef, Op, type ValType, encodeModule } from './wasm.js';

export { Stop } from './layout.js';

/**
 * The module the JIT writes for one program (index spaces in layout.ts). Every eBPF function
 * has the type (r1, r2, r3, r4, r5, r10) -> r0. Globals (exported): `stop` (1 a tail call
 * waits, 2 a packet load ended the program with 0), `sp` (the frame pointer of the function
 * running: callbacks get the frame below it) and, for checked programs, `fuel` and `depth`.
 * Tail calls: `run32(ctx)` is `chain32(ctx, 0)`; chain32 runs the program and, when it ended in
 * a tail call to another compiled program of the same machine (stop 3, `target` its index in
 * the imported `progs` table), calls that program's chain32 with the count one higher: a chain
 * of tail calls stays in WebAssembly. `chain` holds the count for the `tail` import.
 */

/**
 * A function's locals after its parameters (layout.ts): r0, r6-r9, pc, two i64 temps, seven i32 temps (T32 on; the inline
 * lookups use them), the may_goto counter (LOOPS).
 */
const LOCALS: ValType[] = [I64, I64, I64, I64, I64, I32, I64, I64, I32, I32, I32, I32, I32, I32, I32, I32];

const LOADS: Readonly<Record<number, [number, number]>> = {
  [Size.BPF_B]: [Op.i64_load8_u, 0],
  [Size.BPF_H]: [Op.i64_load16_u, 1],
  [Size.BPF_W]: [Op.i64_load32_u, 2],
  [Size.BPF_DW]: [Op.i64_load, 3],
};
const LOADS_SX: Readonly<Record<number, [number, number]>> = {
  [Size.BPF_B]: [Op.i64_load8_s, 0],
  [Size.BPF_H]: [Op.i64_load16_s, 1],
  [Size.BPF_W]: [Op.i64_load32_s, 2],
};
const STORES: Readonly<Record<number, [number, number]>> = {
  [Size.BPF_B]: [Op.i64_store8, 0],
  [Size.BPF_H]: [Op.i64_store16, 1],
  [Size.BPF_W]: [Op.i64_store32, 2],
  [Size.BPF_DW]: [Op.i64_store, 3],
};
const SIZE_BYTES: Readonly<Record<number, number>> = { [Size.BPF_B]: 1, [Size.BPF_H]: 2, [Size.BPF_W]: 4, [Size.BPF_DW]: 8 };

/** Comparisons of conditional jumps: [64-bit, 32-bit] (JSET is and-then-nonzero). */
const CMP: Readonly<Record<number, [number, number]>> = {
  [JmpOp.BPF_JEQ]: [Op.i64_eq, Op.i32_eq],
  [JmpOp.BPF_JNE]: [Op.i64_ne, Op.i32_ne],
  [JmpOp.BPF_JGT]: [Op.i64_gt_u, Op.i32_gt_u],
  [JmpOp.BPF_JGE]: [Op.i64_ge_u, Op.i32_ge_u],
  [JmpOp.BPF_JLT]: [Op.i64_lt_u, Op.i32_lt_u],
  [JmpOp.BPF_JLE]: [Op.i64_le_u, Op.i32_le_u],
  [JmpOp.BPF_JSGT]: [Op.i64_gt_s, Op.i32_gt_s],
  [JmpOp.BPF_JSGE]: [Op.i64_ge_s, Op.i32_ge_s],
  [JmpOp.BPF_JSLT]: [Op.i64_lt_s, Op.i32_lt_s],
  [JmpOp.BPF_JSLE]: [Op.i64_le_s, Op.i32_le_s],
};

/**
 * JitError: a program the JIT cannot compile (an unknown helper), naming the slot. Not a UserError:
 * the JIT's front door turns it into a LoadError; one that escapes is a bug.
 */
export class JitError extends Error {
  readonly slot: number;
  constructor(slot: number, message: string) {
    super(message);
    this.slot = slot;
  }
}

/** JitOptions: how lddw pseudo sources resolve (the machine's map table). */
export interface JitOptions {
  readonly resolveImm64?: (src: number, imm: bigint, slot: number) => bigint;
  readonly maxPages: number;
  /**
   * A program the verifier did not see: count instructions against the `fuel` global (each
   * block charges its length on entry), check each access through the `check` import, count
   * call frames in `depth`.
   */
  readonly checked?: boolean;
  /** Helper ids that exist (a call of another is refused at compile time, as the interpreter does). */
  readonly helperExists?: (id: number) => boolean;
  /** Array maps by descriptor: their lookups are inlined (a bounds test and an address). */
  readonly arrayLayout?: (desc: number) => ArrayLayout | undefined;
  /** Compiled programs by id (Machine.tailIndex): a tail call to one is resolved in WebAssembly. */
  readonly tailIndex?: { readonly base: number; readonly limit: number };
  /** Map descriptors' layout: lookups in arrays and maps of maps known only at run time are inlined. */
  readonly descriptorLayout?: DescriptorLayout;
  /** LPM tries of at most 32-bit keys: their lookups are inlined (the trie walked in place). */
  readonly lpmLayout?: (desc: number) => LpmLayout | undefined;
  /** Helpers whose result is a constant on this machine (Helper.constant): the value, put in r0 without a call. */
  readonly constantHelper?: (id: number) => bigint | undefined;
  /** Helpers with a 32-bit form (called through `helper32`, no BigInt): how r0 extends their result. */
  readonly helper32?: (id: number) => 'u32' | 's32' | undefined;
  /** The frame pointer a run starts with (the top of the machine's stack). */
  readonly stackTop: number;
}

/** Compiled: the module's bytes and which export runs which eBPF function (by first slot). */
export interface Compiled {
  readonly bytes: Uint8Array;
  readonly functions: readonly number[];
}

/**
 * compileProgram writes the module: each eBPF function becomes a Wasm function over i64
 * locals with a dispatch loop over its basic blocks (br_table on a block number; fall-through
 * edges need none).
 */
export function compileProgram(program: CheckedProgram, options: JitOptions): Compiled {
  const fns = [...program.functions];
  const fnIndex = new Map(fns.map((f, n) => [f, Fn.first + n]));
  const bodies: FuncDef[] = [bswap32(), bswap64()];
  for (const start of fns) bodies.push(compileFunction(program, start, fnIndex, options));
  // only a program that makes tail calls imports the table (an instance importing a table stays
  // reachable from it: V8 keeps every user of a table to update its dispatch)
  const tailCalls = program.insns.some(
    (i) => i.opcode === (Class.BPF_JMP | JmpOp.BPF_CALL) && i.src === 0 && Number(i.imm) === BPF_FUNC_tail_call,
  );
  // run32(ctx): the per-packet entry, no BigInt across the boundary; chain32(ctx, count): see Stop
  const chain32Fn = Fn.first + fns.length + 2;
  const run32 = new Code();
  run32.get(0).i32(0).op(Op.call).u(chain32Fn);
  bodies.push({ type: T.run32, locals: [], code: run32 });
  // repeat32(ctx, n): run32 n times (a test run's repeat) with the frame pointer as it was;
  // stops early when a run leaves work to JavaScript (stop); `done` says how many ran
  const repeat = new Code();
  {
    const [ctx, n, i, r, top] = [0, 1, 2, 3, 4];
    repeat.op(Op.global_get).u(G.sp).set(top);
    repeat.op(Op.block, 0x40, Op.loop, 0x40).get(i).get(n).op(Op.i32_ge_u, Op.br_if).u(1);
    repeat.get(top).op(Op.global_set).u(G.sp);
    repeat
      .get(ctx)
      .op(Op.call)
      .u(Fn.first + fns.length)
      .set(r);
    repeat.get(i).i32(1).op(Op.i32_add).set(i);
    repeat.op(Op.global_get).u(G.stop).op(Op.br_if).u(1).op(Op.br).u(0).op(Op.end, Op.end);
    repeat.get(i).op(Op.global_set).u(G.done).get(r);
  }
  bodies.push({ type: T.repeat32, locals: [I32, I32, I32], code: repeat });
  const chain = new Code();
  {
    const [ctx, count, r] = [0, 1, 2];
    chain.get(count).op(Op.global_set).u(G.chain).i32(options.stackTop).op(Op.global_set).u(G.sp);
    chain
      .get(ctx)
      .op(Op.i64_extend_i32_u)
      .i64(0n)
      .i64(0n)
      .i64(0n)
      .i64(0n)
      .i64(BigInt(options.stackTop))
      .op(Op.call)
      .u(Fn.first)
      .op(Op.i32_wrap_i64)
      .set(r);
    // a tail call to a compiled program: run it here; an aborting packet load: 0
    if (tailCalls) {
      chain.op(Op.global_get).u(G.stop).i32(Stop.TAIL_WASM).op(Op.i32_eq, Op.if, 0x40);
      chain.i32(0).op(Op.global_set).u(G.stop);
      chain.get(ctx).get(count).i32(1).op(Op.i32_add).op(Op.global_get).u(G.target).op(Op.call_indirect).u(T.chain).u(0).op(Op.return);
      chain.op(Op.end);
    }
    chain
      .op(Op.global_get)
      .u(G.stop)
      .i32(Stop.ABORT_ZERO)
      .op(Op.i32_eq, Op.if, 0x40)
      .i32(0)
      .op(Op.global_set)
      .u(G.stop)
      .i32(0)
      .op(Op.return, Op.end);
    chain.get(r);
  }
  bodies.push({ type: T.chain, locals: [I32], code: chain });
  const module: ModuleDef = {
    types: [
      { params: [I32, I64, I64, I64, I64, I64, I32], results: [I64] },
      { params: [I32, I32, I32, I32], results: [I32] },
      { params: [I64, I32, I32, I32], results: [I64] },
      { params: [I32], results: [I32] },
      { params: [I64], results: [I64] },
      { params: [I64, I64, I64, I64, I64, I64], results: [I64] },
      { params: [I32], results: [I32] },
      { params: [I32], results: [] },
      { params: [I64, I32, I32, I32], results: [I32] },
      { params: [I32, I32, I32, I32, I32, I32], results: [I32] },
      { params: [I32, I32], results: [I32] },
      { params: [I32, I32], results: [I32] },
    ],
    imports: [
      { name: 'helper', type: T.helper },
      { name: 'tail', type: T.tail },
      { name: 'ldabs', type: T.ldabs },
      { name: 'exhausted', type: T.slot },
      { name: 'check', type: T.check },
      { name: 'tooDeep', type: T.slot },
      { name: 'helper32', type: T.helper32 },
    ],
    maxPages: options.maxPages,
    globals: [I32, I32, I64, I32, I32, I32, I32],
    tableImport: tailCalls ? 'progs' : undefined,
    funcs: bodies,
    exports: [
      ...fns.map((f, n) => ({ name: `f${f}`, func: Fn.first + n })),
      { name: 'run32', func: Fn.first + fns.length },
      { name: 'repeat32', func: Fn.first + fns.length + 1 },
      { name: 'chain32', func: chain32Fn },
      { name: 'done', global: G.done },
      { name: 'target', global: G.target },
      { name: 'chain', global: G.chain },
      { name: 'stop', global: G.stop },
      { name: 'sp', global: G.sp },
      { name: 'fuel', global: G.fuel },
      { name: 'depth', global: G.depth },
    ],
  };
  return { bytes: encodeModule(module), functions: fns };
}

function bswap32(): FuncDef {
  // ((x & 0xff00ff00) rotl 8) | ((x & 0x00ff00ff) rotr 8)
  const c = new Code();
  c.get(0).i32(0xff00ff00).op(Op.i32_and).i32(8).op(Op.i32_rotl);
  c.get(0).i32(0x00ff00ff).op(Op.i32_and).i32(8).op(Op.i32_rotr).op(Op.i32_or);
  return { type: T.i32i32, locals: [], code: c };
}

function bswap64(): FuncDef {
  const c = new Code();
  c.get(0).op(Op.i32_wrap_i64, Op.call).u(Fn.bswap32).op(Op.i64_extend_i32_u).i64(32n).op(Op.i64_shl);
  c.get(0).i64(32n).op(Op.i64_shr_u, Op.i32_wrap_i64, Op.call).u(Fn.bswap32).op(Op.i64_extend_i32_u, Op.i64_or);
  return { type: T.i64i64, locals: [], code: c };
}

function compileFunction(program: CheckedProgram, start: number, fnIndex: ReadonlyMap<number, number>, options: JitOptions): FuncDef {
  const map = program.slots;
  // the function's code: every slot its flow reaches from the start (calls aside), so code a
  // function falls into (possible without the verifier) is compiled into it too
  const reach = new Set<number>();
  const todo = [start];
  while (todo.length) {
    const s = todo.pop()!;
    if (reach.has(s)) continue;
    reach.add(s);
    todo.push(...flowOf(map, s).next);
  }
  // basic blocks (a forward jump is a branch out to its target's block; only backward jumps
  // go through the dispatch): the start, every jump target, whatever follows a jump or an exit, and the
  // first slot of each run of reached slots
  const leaders = new Set<number>([start]);
  for (const s of reach) {
    const i = map.at[s]!;
    const w = i.opcode === LDDW ? 2 : 1;
    if (!reach.has(s - 1) && !(s >= 2 && map.at[s - 2]?.opcode === LDDW && reach.has(s - 2))) leaders.add(s);
    const cls = opClass(i.opcode);
    if (cls !== Class.BPF_JMP && cls !== Class.BPF_JMP32) continue;
    const op = i.opcode & 0xf0;
    if (op === JmpOp.BPF_CALL) continue;
    if (reach.has(s + w)) leaders.add(s + w);
    if (op !== JmpOp.BPF_EXIT) for (const t of flowOf(map, s).next) leaders.add(t);
  }
  const blocks = [...leaders].sort((a, b) => a - b);
  // a block ends at the next leader or where the reached slots stop
  const endOf = (n: number) => {
    let s = blocks[n];
    const next = blocks[n + 1] ?? Infinity;
    while (s < next && reach.has(s)) s += map.at[s]!.opcode === LDDW ? 2 : 1;
    return s;
  };
  const blockOf = new Map(blocks.map((b, n) => [b, n]));
  const K = blocks.length - 1;
  const c = new Code();
  // the frame pointer for callbacks, and the frame count
  c.get(REG[10]).op(Op.i32_wrap_i64, Op.global_set).u(G.sp);
  // may_goto's counter, per call of the function (do_misc_fixups sets the hidden slot at the function's entry)
  if ([...reach].some((s) => isMayGoto(map.at[s]!))) c.i32(BPF_MAX_LOOPS).set(LOOPS);
  /** Where block n ends, and what its end does: a jump's taken target, falling through (to `stop`), or neither (exit, ja). */
  const exits = (n: number) => {
    const stop = endOf(n);
    const i = map.at[blocks[n] === stop ? stop : lastSlot(map, blocks[n], stop)]!;
    const cls = opClass(i.opcode);
    const op = i.opcode & 0xf0;
    const jump = (cls === Class.BPF_JMP || cls === Class.BPF_JMP32) && op !== JmpOp.BPF_CALL;
    const taken = jump && op !== JmpOp.BPF_EXIT ? flowOf(map, lastSlot(map, blocks[n], stop)).next.at(-1)! : undefined;
    const falls = !(jump && (op === JmpOp.BPF_EXIT || op === JmpOp.BPF_JA)) && reach.has(stop);
    return { stop, taken, ja: jump && op === JmpOp.BPF_JA, falls };
  };
  /** emitBlock writes block n's instructions; `to` writes a branch to a block (`inIf`: from inside an `if`). */
  const emitBlock = (n: number, to: (target: number, inIf: boolean) => void) => {
    const b = blocks[n];
    const stop = endOf(n);
    if (options.checked) {
      // charge the block's instructions; out of fuel: the import throws, naming the block
      let len = 0;
      for (let s = b; s < stop; s += map.at[s]!.opcode === LDDW ? 2 : 1) len++;
      c.op(Op.global_get).u(G.fuel).i64(BigInt(len)).op(Op.i64_sub).op(Op.global_set).u(G.fuel);
      c.op(Op.global_get).u(G.fuel).i64(0n).op(Op.i64_lt_s, Op.if, 0x40).i32(b).op(Op.call).u(Fn.exhausted).op(Op.end);
    }
    let s = b;
    // the map an lddw just put in r1 (this block, r1 not written since): its lookups may be inlined
    let r1Map: number | undefined;
    while (s < stop) {
      const i = map.at[s]!;
      const cls = opClass(i.opcode);
      const op = i.opcode & 0xf0;
      const mapInR1 = r1Map;
      r1Map =
        i.opcode === LDDW && i.dst === 1 && i.src === Pseudo.BPF_PSEUDO_MAP_FD && options.resolveImm64
          ? Number(options.resolveImm64(i.src, i.imm, s))
          : writesR1(i)
            ? undefined
            : r1Map;
      if (cls === Class.BPF_JMP || cls === Class.BPF_JMP32) {
        if (op === JmpOp.BPF_EXIT) {
          c.get(REG[0]).op(Op.return);
        } else if (op === JmpOp.BPF_CALL) {
          const lookup = mapInR1 !== undefined && i.src === 0 && !(i.opcode & Source.BPF_X) && Number(i.imm) === 1 && !options.checked;
          const layout = lookup ? options.arrayLayout?.(mapInR1) : undefined;
          const lpm = lookup && !layout ? options.lpmLayout?.(mapInR1) : undefined;
          const dynamic =
            !options.checked && i.src === 0 && !(i.opcode & Source.BPF_X) && Number(i.imm) === 1 ? options.descriptorLayout : undefined;
          if (layout) inlineArrayLookup(c, layout);
          else if (lpm) inlineLpmLookup(c, lpm);
          else if (dynamic) inlineDynamicLookup(c, dynamic, () => call(c, i, s, fnIndex, map, options));
          else call(c, i, s, fnIndex, map, options);
        } else if (op === JmpOp.BPF_JA) {
          const t = flowOf(map, s).next[0];
          if (t !== stop || blocks[n + 1] !== stop) to(t, false);
        } else if (op === JmpOp.BPF_JCOND) {
          // may_goto: the counter spent, the target; else one less, on to the fall-through
          const [, t] = flowOf(map, s).next;
          c.get(LOOPS).op(Op.i32_eqz, Op.if, 0x40);
          to(t, true);
          c.op(Op.end);
          c.get(LOOPS).i32(1).op(Op.i32_sub).set(LOOPS);
        } else {
          const [, t] = flowOf(map, s).next;
          compare(c, i, cls === Class.BPF_JMP32);
          c.op(Op.if, 0x40);
          to(t, true);
          c.op(Op.end);
        }
      } else emitInsn(c, i, s, options);
      s += i.opcode === LDDW ? 2 : 1;
    }
    // flow into a block that is not the next one in the layout
    const e = exits(n);
    if (e.falls && blocks[n + 1] !== stop) to(stop, false);
  };
  // structured control flow where the graph allows it (stackify.ts); else a dispatch loop
  const edges = blocks.map((_, n) => {
    const e = exits(n);
    const out: number[] = [];
    if (e.taken !== undefined && (!e.ja || e.taken !== e.stop || blocks[n + 1] !== e.stop)) out.push(blockOf.get(e.taken)!);
    if (e.falls && blocks[n + 1] !== e.stop) out.push(blockOf.get(e.stop)!);
    return out;
  });
  const constructs = stackify(edges);
  if (constructs) {
    const open: Construct[] = [];
    const label = (k: Construct['kind'], at: number) => {
      const d = open.findIndex((x) => x.kind === k && (k === 'loop' ? x.start : x.end) === at);
      if (d < 0) throw new JitError(blocks[at], `internal: no ${k} label for block ${at}`);
      return open.length - 1 - d;
    };
    for (let n = 0; n <= K; n++) {
      while (open.length && open[open.length - 1].end === n) (open.pop(), c.op(Op.end));
      for (const x of constructs.filter((y) => y.start === n)) {
        c.op(x.kind === 'loop' ? Op.loop : Op.block, 0x40);
        open.push(x);
      }
      emitBlock(n, (target, inIf) => {
        const j = blockOf.get(target)!;
        c.op(Op.br).u(label(j > n ? 'block' : 'loop', j) + (inIf ? 1 : 0));
      });
    }
    while (open.length) (open.pop(), c.op(Op.end));
    c.op(Op.unreachable);
    return { type: T.ebpf, locals: LOCALS, code: c };
  }
  c.op(Op.loop, 0x40);
  for (let n = K; n >= 0; n--) c.op(Op.block, 0x40);
  c.get(PC)
    .op(Op.br_table)
    .u(K + 1);
  for (let n = 0; n <= K; n++) c.u(n);
  c.u(K);
  blocks.forEach((_, n) => {
    c.op(Op.end);
    emitBlock(n, (target, inIf) => {
      const j = blockOf.get(target)!;
      // forward: out of the blocks up to block j's (its code follows that block's end);
      // backward: through the dispatch at the loop's head
      if (j > n) c.op(Op.br).u(j - n - 1 + (inIf ? 1 : 0));
      else
        c.i32(j)
          .set(PC)
          .op(Op.br)
          .u(K - n + (inIf ? 1 : 0));
    });
  });
  c.op(Op.end); // loop
  c.op(Op.unreachable);
  return { type: T.ebpf, locals: LOCALS, code: c };
}

/** writesR1: whether an instruction may change r1 (a call clobbers it). */
function writesR1(i: Instruction): boolean {
  const cls = opClass(i.opcode);
  if (cls === Class.BPF_JMP || cls === Class.BPF_JMP32) return (i.opcode & 0xf0) === JmpOp.BPF_CALL;
  if (cls === Class.BPF_STX && (i.opcode & 0xe0) === Mode.BPF_ATOMIC) return i.src === 1 || i.dst === 1;
  return (
    (cls === Class.BPF_ALU || cls === Class.BPF_ALU64 || cls === Class.BPF_LDX || cls === Class.BPF_LD) &&
    (i.dst === 1 || (cls === Class.BPF_LD && i.opcode !== LDDW))
  );
}

/** lastSlot: the slot of the last instruction in [from, to). */
function lastSlot(map: SlotMap, from: number, to: number): number {
  let last = from;
  for (let s = from; s < to; s += map.at[s]!.opcode === LDDW ? 2 : 1) last = s;
  return last;
}

/** compare pushes the condition of a conditional jump (an i32). */
function compare(c: Code, i: Instruction, w32: boolean): void {
  const op = i.opcode & 0xf0;
  const x = (i.opcode & Source.BPF_X) !== 0;
  c.get(REG[i.dst]);
  if (w32) c.op(Op.i32_wrap_i64);
  if (x) {
    c.get(REG[i.src]);
    if (w32) c.op(Op.i32_wrap_i64);
  } else if (w32) c.i32(Number(BigInt.asIntN(32, i.imm)));
  else c.i64(BigInt.asIntN(32, i.imm));
  if (op === JmpOp.BPF_JSET) {
    if (w32) c.op(Op.i32_and, Op.i32_eqz, Op.i32_eqz);
    else c.op(Op.i64_and, Op.i64_eqz, Op.i32_eqz);
    return;
  }
  c.op(CMP[op][w32 ? 1 : 0]);
}

/** call: a helper (through the `helper` import), a tail call, callx, or a bpf-to-bpf function with its own frame. */
function call(c: Code, i: Instruction, slot: number, fnIndex: ReadonlyMap<number, number>, map: SlotMap, options: JitOptions): void {
  if (i.src === Pseudo.BPF_PSEUDO_CALL && !(i.opcode & Source.BPF_X)) {
    const target = flowOf(map, slot).call!;
    if (options.checked) {
      // the frames below the main one: seven at most
      c.op(Op.global_get).u(G.depth).i32(1).op(Op.i32_add).op(Op.global_set).u(G.depth);
      c.op(Op.global_get)
        .u(G.depth)
        .i32(MAX_CALL_FRAMES - 1)
        .op(Op.i32_gt_s, Op.if, 0x40)
        .i32(slot)
        .op(Op.call)
        .u(Fn.tooDeep)
        .op(Op.end);
    }
    for (let r = 1; r <= 5; r++) c.get(REG[r]);
    c.get(REG[10]).i64(BigInt(MAX_BPF_STACK)).op(Op.i64_sub);
    c.op(Op.call).u(fnIndex.get(target)!).set(REG[0]);
    if (options.checked) c.op(Op.global_get).u(G.depth).i32(1).op(Op.i32_sub).op(Op.global_set).u(G.depth);
    c.get(REG[10]).op(Op.i32_wrap_i64, Op.global_set).u(G.sp);
    // a tail call or an aborting packet load below ends this function too
    c.op(Op.global_get).u(G.stop).op(Op.if, 0x40).i64(0n).op(Op.return, Op.end);
    return;
  }
  if (!(i.opcode & Source.BPF_X) && Number(i.imm) === BPF_FUNC_tail_call) {
    // ctx, the prog array and the index: 32-bit (a pointer, a pointer, a u32 index)
    // (inside a block the inline resolution leaves when the tail call fails, skipping the import)
    const inline = options.tailIndex && options.descriptorLayout && !options.checked;
    if (inline) c.op(Op.block, 0x40);
    if (inline) inlineTailCall(c, options.tailIndex!, options.descriptorLayout!);
    // and the count so far; back: 0 no tail call (go on), -1 JavaScript runs the target, k+1 the compiled program at k
    c.get(REG[1])
      .op(Op.i32_wrap_i64)
      .get(REG[2])
      .op(Op.i32_wrap_i64)
      .get(REG[3])
      .op(Op.i32_wrap_i64)
      .op(Op.global_get)
      .u(G.chain)
      .op(Op.call)
      .u(Fn.tail)
      .tee(T32);
    c.op(Op.if, 0x40);
    c.get(T32).i32(0).op(Op.i32_lt_s, Op.if, 0x40).i32(Stop.TAIL).op(Op.global_set).u(G.stop);
    c.op(Op.else).get(T32).i32(1).op(Op.i32_sub).op(Op.global_set).u(G.target).i32(Stop.TAIL_WASM).op(Op.global_set).u(G.stop).op(Op.end);
    c.i64(0n).op(Op.return, Op.end);
    if (inline) c.op(Op.end);
    return;
  }
  // a kfunc none implements (a weak extern left 0): the verifier proved it unreached
  if (i.src === Pseudo.BPF_PSEUDO_KFUNC_CALL && options.helperExists && !options.helperExists(Number(i.imm))) {
    c.op(Op.unreachable);
    return;
  }
  // a helper by id (a kfunc by its BTF id), or callx: the id in a register
  if (i.opcode & Source.BPF_X) c.get(REG[i.dst]).op(Op.i32_wrap_i64);
  else {
    const id = Number(i.imm);
    if (options.helperExists && !options.helperExists(id)) throw new JitError(slot, `invalid func unknown#${id}`);
    // bpf_loop over one of the program's own functions: the loop and its calls stay in WebAssembly
    const targets = id === BPF_FUNC_loop && i.src === 0 && !options.checked ? callbackTargets(map) : [];
    if (targets.length) {
      inlineBpfLoop(c, targets, fnIndex, () => {
        c.i32(id);
        for (let r = 1; r <= 5; r++) c.get(REG[r]);
        c.i32(slot).op(Op.call).u(Fn.helper).set(REG[0]);
      });
      return;
    }
    const value = options.constantHelper?.(id);
    if (value !== undefined) {
      c.i64(value).set(REG[0]);
      return;
    }
    const ret = options.helper32?.(id);
    if (ret) {
      // the 32-bit form when every argument fits in 32 bits (arguments and result as i32,
      // extended into r0 as the helper says); the BigInt form otherwise
      c.get(REG[1]);
      for (let r = 2; r <= 5; r++) c.get(REG[r]).op(Op.i64_or);
      c.i64(32n).op(Op.i64_shr_u, Op.i64_eqz, Op.if, I64);
      c.i32(id);
      for (let r = 1; r <= 5; r++) c.get(REG[r]).op(Op.i32_wrap_i64);
      c.op(Op.call)
        .u(Fn.helper32)
        .op(ret === 'u32' ? Op.i64_extend_i32_u : Op.i64_extend_i32_s);
      c.op(Op.else).i32(id);
      for (let r = 1; r <= 5; r++) c.get(REG[r]);
      c.i32(slot).op(Op.call).u(Fn.helper).op(Op.end).set(REG[0]);
      return;
    }
    c.i32(id);
  }
  for (let r = 1; r <= 5; r++) c.get(REG[r]);
  c.i32(slot).op(Op.call).u(Fn.helper).set(REG[0]);
}

function emitInsn(c: Code, i: Instruction, slot: number, options: JitOptions): void {
  const cls = opClass(i.opcode);
  const mode = i.opcode & 0xe0;
  const size = i.opcode & 0x18;
  const addr = (r: number, kind: number) => {
    c.get(REG[r]).i64(BigInt(i.offset)).op(Op.i64_add);
    if (options.checked) c.i32(SIZE_BYTES[size]).i32(kind).i32(slot).op(Op.call).u(Fn.check);
    else c.op(Op.i32_wrap_i64);
    return c;
  };
  switch (cls) {
    case Class.BPF_ALU:
    case Class.BPF_ALU64:
      return alu(c, i, cls === Class.BPF_ALU);
    case Class.BPF_LDX: {
      const [op, align] = (mode === Mode.BPF_MEMSX ? LOADS_SX : LOADS)[size];
      addr(i.src, Access.READ).mem(op, align).set(REG[i.dst]);
      return;
    }
    case Class.BPF_ST: {
      const [op, align] = STORES[size];
      addr(i.dst, Access.WRITE).i64(BigInt.asIntN(32, i.imm)).mem(op, align);
      return;
    }
    case Class.BPF_STX: {
      if (mode === Mode.BPF_ATOMIC) {
        addr(i.dst, Access.ATOMIC);
        return atomic(c, i, size === Size.BPF_W);
      }
      const [op, align] = STORES[size];
      addr(i.dst, Access.WRITE).get(REG[i.src]).mem(op, align);
      return;
    }
    default: {
      if (i.opcode === LDDW) {
        let v = i.imm;
        if (i.src === Pseudo.BPF_PSEUDO_FUNC) v = BigInt(CALLBACK_TAG + slot + 1 + Number(BigInt.asIntN(32, i.imm)));
        else if (i.src !== 0) {
          if (!options.resolveImm64) throw new Error(`lddw with pseudo source ${i.src} needs a map table`);
          v = options.resolveImm64(i.src, i.imm, slot);
        }
        c.i64(v).set(REG[i.dst]);
        return;
      }
      // LD_ABS / LD_IND: the `ldabs` import answers -1 when out of bounds: the program ends with 0
      c.get(REG[6]);
      if (mode === Mode.BPF_IND)
        c.get(REG[i.src])
          .op(Op.i32_wrap_i64)
          .i32(Number(BigInt.asIntN(32, i.imm)))
          .op(Op.i32_add);
      else c.i32(Number(BigInt.asIntN(32, i.imm)));
      c.i32(SIZE_BYTES[size]).i32(slot).op(Op.call).u(Fn.ldabs).tee(REG[0]);
      c.i64(-1n).op(Op.i64_eq, Op.if, 0x40).i32(Stop.ABORT_ZERO).op(Op.global_set).u(G.stop).i64(0n).op(Op.return, Op.end);
    }
  }
}
