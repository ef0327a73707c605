import { disassemble } from '../disassembler.js';
import type { Engine, Machine, Prepared, PrepareOptions, RunArgs } from '../engine.js';
import { InstructionError, LoadError, RuntimeError } from '../errors.js';
import { flowOf } from '../cfg.js';
import type { Instruction } from '../instruction.js';
import { AluOp, BPF_MAX_LOOPS, Class, JmpOp, MAX_BPF_STACK, MAX_CALL_FRAMES, Mode, Pseudo, Source, opClass } from '../opcodes.js';
import type { CheckedProgram } from '../program.js';
import { compileAlu } from './alu.js';
import { compileAtomic } from './atomic.js';
import { compileCallx, compileExit, compileHelperCall, compileLocalCall } from './call.js';
import { compileJump } from './jump.js';
import { compileLddw, compileLoad, compilePacketLoad, compileStore } from './memops.js';
import { ExecState, type Step, Stop } from './state.js';
import { CALLBACK_TAG } from '../helpers.js';

/** DEFAULT_BUDGET: instructions a run may execute before it is stopped. */
export const DEFAULT_BUDGET = 100_000_000;

/** usesImmediate tells whether an instruction's K operand is read like a source register. */
function usesImmediate(i: Instruction): boolean {
  const cls = opClass(i.opcode);
  const op = i.opcode & 0xf0;
  if (cls === Class.BPF_ST) return true;
  if (cls === Class.BPF_ALU || cls === Class.BPF_ALU64)
    return (i.opcode & Source.BPF_X) === 0 && op !== AluOp.BPF_NEG && op !== AluOp.BPF_END;
  if (cls === Class.BPF_JMP || cls === Class.BPF_JMP32) {
    return (i.opcode & Source.BPF_X) === 0 && op !== JmpOp.BPF_JA && op !== JmpOp.BPF_CALL && op !== JmpOp.BPF_EXIT;
  }
  return false;
}

function compile(i: Instruction, slot: number, st: ExecState, src: number, program: CheckedProgram): Step {
  const flow = flowOf(program.slots, slot);
  const next = flow.next[0] ?? -1;
  const cls = opClass(i.opcode);
  const op = i.opcode & 0xf0;
  switch (cls) {
    case Class.BPF_ALU:
    case Class.BPF_ALU64:
      return compileAlu(i, st, src, next);
    case Class.BPF_JMP:
    case Class.BPF_JMP32:
      if (op === JmpOp.BPF_EXIT) return compileExit(st);
      if (op === JmpOp.BPF_CALL) {
        if (i.opcode & Source.BPF_X) return compileCallx(i, st, slot, next);
        if (i.src === Pseudo.BPF_PSEUDO_CALL) return compileLocalCall(st, slot, flow.call!, next);
        // a kfunc: its implementation is registered with the helpers under its BTF id (vm/verifier/kfuncs.ts);
        // one there is none of (a weak extern left 0) the verifier proved unreached
        if (i.src === Pseudo.BPF_PSEUDO_KFUNC_CALL && !st.machine.helpers.get(Number(i.imm)))
          return () => {
            throw new RuntimeError(slot, `kernel function #${Number(i.imm)} is not available`);
          };
        return compileHelperCall(i, st, slot, next);
      }
      if (op === JmpOp.BPF_JA) return compileJump(i, st, src, next, next);
      return compileJump(i, st, src, flow.next[1], flow.next[0]);
    case Class.BPF_LDX:
      return compileLoad(i, st, slot, next);
    case Class.BPF_ST:
      return compileStore(i, st, src, slot, next);
    case Class.BPF_STX:
      return (i.opcode & 0xe0) === Mode.BPF_ATOMIC ? compileAtomic(i, st, slot, next) : compileStore(i, st, i.src, slot, next);
    default: {
      if ((i.opcode & 0xe0) !== Mode.BPF_IMM) return compilePacketLoad(i, st, slot, next);
      if (i.src === 0) return compileLddw(i, st, i.imm, next);
      if (i.src === Pseudo.BPF_PSEUDO_FUNC) {
        // a callback: the tag and the function's slot, for helpers to call back (bpf_loop)
        return compileLddw(i, st, BigInt(CALLBACK_TAG + slot + 1 + Number(BigInt.asIntN(32, i.imm))), next);
      }
      const resolve = st.machine.resolveImm64;
      if (!resolve) throw new RuntimeError(slot, `lddw with pseudo source ${i.src} needs a map table`);
      return compileLddw(i, st, resolve(i.src, i.imm, slot), next);
    }
  }
}

/**
 * InterpretedProgram runs a checked program by calling one pre-built closure per
 * instruction: each Step knows its operands and its successor, so the loop only dispatches.
 */
class InterpretedProgram implements Prepared {
  readonly #st: ExecState;
  readonly #steps: Step[];
  readonly #program: CheckedProgram;
  readonly #budget: number;
  readonly #trace?: (line: string) => void;
  readonly #observe?: (slot: number, reg: (r: number) => bigint) => void;
  executed = 0;

  constructor(program: CheckedProgram, machine: Machine, options: PrepareOptions) {
    let constants = 0;
    for (const i of program.insns) if (usesImmediate(i)) constants++;
    const st = new ExecState(machine, 11 + constants);
    const steps: Step[] = new Array(program.slots.length);
    let nextConst = 11;
    for (let slot = 0; slot < program.slots.length; slot++) {
      const i = program.slots.at[slot];
      if (!i) continue;
      let src = i.src;
      if (usesImmediate(i)) {
        src = nextConst++;
        st.lo[src] = Number(BigInt.asIntN(32, i.imm));
        st.hi[src] = st.lo[src] >> 31;
      }
      try {
        steps[slot] = compile(i, slot, st, src, program);
      } catch (e) {
        if (e instanceof RuntimeError)
          throw new LoadError(new InstructionError(slot, e.message.replace(/^run: insn \d+: /, ''), { cause: e }));
        throw e;
      }
    }
    this.#st = st;
    this.#steps = steps;
    st.callback = (fn, ...args) => this.#callback(fn, args);
    this.#program = program;
    this.#budget = options.budget ?? DEFAULT_BUDGET;
    this.#trace = options.trace;
    this.#observe = options.observe;
  }

  run(args: RunArgs = {}): bigint {
    const st = this.#st;
    st.refresh();
    st.lo.fill(0, 0, 11);
    st.hi.fill(0, 0, 11);
    const set = (r: number, v: bigint | number | undefined) => {
      if (v === undefined) return;
      if (typeof v === 'number' && v >= 0 && v <= 0xffffffff && Number.isInteger(v)) {
        st.lo[r] = v | 0; // addresses and small values: no BigInt
        st.hi[r] = 0;
        return;
      }
      const b = BigInt.asUintN(64, BigInt(v));
      st.lo[r] = Number(b & 0xffffffffn) | 0;
      st.hi[r] = Number(b >> 32n) | 0;
    };
    set(1, args.r1);
    set(2, args.r2);
    set(3, args.r3);
    set(4, args.r4);
    set(5, args.r5);
    this.executed = 0;
    return this.#loop(0);
  }

  run32(ctx: number): number {
    const st = this.#st;
    st.refresh();
    const lo = st.lo;
    const hi = st.hi;
    for (let r = 0; r < 11; r++) lo[r] = hi[r] = 0;
    lo[1] = ctx | 0;
    this.executed = 0;
    this.#run(0);
    if (st.tailTarget) return Number(BigInt.asUintN(32, this.#finish(Stop.TAIL_CALL, 0)));
    return lo[0] >>> 0;
  }

  /** callback runs the function at the slot `fn` names in a new frame, as a bpf-to-bpf call would. */
  #callback(fn: bigint, args: bigint[]): bigint {
    const st = this.#st;
    const target = Number(fn) - CALLBACK_TAG;
    if (target < 0 || target >= this.#steps.length || !this.#steps[target])
      throw new RuntimeError(0, `callback 0x${fn.toString(16)} is not a function of this program`);
    if (!st.pushFrame(Stop.CALLBACK_RETURN, MAX_CALL_FRAMES))
      throw new RuntimeError(target, `the call stack of ${MAX_CALL_FRAMES + 1} frames is too deep`);
    st.lo[10] -= MAX_BPF_STACK;
    for (let r = 1; r <= 5; r++) {
      const v = BigInt.asUintN(64, args[r - 1] ?? 0n);
      st.lo[r] = Number(v & 0xffffffffn) | 0;
      st.hi[r] = Number(v >> 32n) | 0;
    }
    let pc = target;
    while (pc >= 0) pc = this.#steps[pc]();
    if (pc !== Stop.CALLBACK_RETURN) throw new RuntimeError(target, 'a callback ended the program');
    return (BigInt(st.hi[0] >>> 0) << 32n) | BigInt(st.lo[0] >>> 0);
  }

  runTail(ctx: bigint, count: number): bigint {
    const st = this.#st;
    st.refresh();
    st.lo.fill(0, 0, 11);
    st.hi.fill(0, 0, 11);
    st.lo[1] = Number(BigInt.asIntN(32, ctx));
    st.hi[1] = Number(BigInt.asIntN(32, ctx >> 32n));
    this.executed = 0;
    return this.#loop(count);
  }

  #loop(tailCalls: number): bigint {
    if (this.#trace || this.#observe) {
      this.#enter(tailCalls);
      return this.#traced(tailCalls);
    }
    return this.#finish(this.#run(tailCalls), tailCalls);
  }

  #enter(tailCalls: number): void {
    const st = this.#st;
    st.lo[10] = st.machine.stack.start + MAX_CALL_FRAMES * MAX_BPF_STACK;
    st.depth = 0;
    st.loops[0] = BPF_MAX_LOOPS;
    st.tailCount = tailCalls;
  }

  /** run executes until exit and returns the stop code (tail calls are left to #finish). */
  #run(tailCalls: number): number {
    this.#enter(tailCalls);
    const steps = this.#steps;
    let pc = 0;
    let n = 0;
    const budget = this.#budget;
    try {
      while (pc >= 0) {
        const step = steps[pc];
        if (++n > budget) throw new RuntimeError(pc, `instruction budget of ${budget} exhausted`);
        pc = step();
      }
    } finally {
      this.executed = n;
    }
    return pc;
  }

  #finish(stop: number, tailCalls: number): bigint {
    const st = this.#st;
    if (stop === Stop.TAIL_CALL) {
      const target = st.tailTarget!;
      st.tailTarget = undefined;
      const ctx = (BigInt(st.hi[1] >>> 0) << 32n) | BigInt(st.lo[1] >>> 0);
      const r = target.runTail(ctx, tailCalls + 1);
      this.executed += target.executed;
      return r;
    }
    return (BigInt(st.hi[0] >>> 0) << 32n) | BigInt(st.lo[0] >>> 0);
  }

  #traced(tailCalls: number): bigint {
    const st = this.#st;
    const trace = this.#trace;
    const observe = this.#observe;
    const reg = (r: number) => (BigInt(st.hi[r] >>> 0) << 32n) | BigInt(st.lo[r] >>> 0);
    const before = new Int32Array(22);
    let pc = 0;
    let n = 0;
    while (pc >= 0) {
      if (++n > this.#budget) throw new RuntimeError(pc, `instruction budget of ${this.#budget} exhausted`);
      observe?.(pc, reg);
      if (!trace) {
        pc = this.#steps[pc]();
        continue;
      }
      before.set(st.lo.subarray(0, 11), 0);
      before.set(st.hi.subarray(0, 11), 11);
      const at = pc;
      pc = this.#steps[pc]();
      const changed: string[] = [];
      for (let r = 0; r < 11; r++) {
        if (st.lo[r] !== before[r] || st.hi[r] !== before[11 + r]) {
          const v = (BigInt(st.hi[r] >>> 0) << 32n) | BigInt(st.lo[r] >>> 0);
          changed.push(`r${r}=0x${v.toString(16)}`);
        }
      }
      const text = `${at}: ${disassemble(this.#program.slots.at[at]!)}`;
      trace(changed.length ? `${text.padEnd(40)} ; ${changed.join(' ')}` : text);
    }
    this.executed = n;
    return this.#finish(pc, tailCalls);
  }
}

/** interpreter is the reference Engine: simple, traceable, the truth the JIT is checked against. */
export const interpreter: Engine = {
  name: 'interpreter',
  prepare(program: CheckedProgram, machine: Machine, options: PrepareOptions = {}): Prepared {
    return new InterpretedProgram(program, machine, options);
  },
};
