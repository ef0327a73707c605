import type { Engine, Machine, PrepareOptions, Prepared, RunArgs, WasmEntry, WasmGlobal } from '../engine.js';
import { InstructionError, LoadError, MemoryFault, RuntimeError } from '../errors.js';
import { CALLBACK_TAG, type HelperEnv } from '../helpers.js';
import { MAX_BPF_STACK, MAX_CALL_FRAMES, MAX_TAIL_CALL_CNT } from '../opcodes.js';
import type { CheckedProgram } from '../program.js';
import { JitError, Stop, compileProgram } from './compile.js';
import { Access } from './layout.js';
import { DEFAULT_BUDGET } from '../interpreter/interpreter.js';
import { Perm } from '../memory.js';

/** The declared maximum of the imported memory: 4 GiB (an actual maximum may be anything below). */
const MAX_PAGES = 65536;

interface Exports {
  readonly [f: string]: unknown;
  readonly run32: (ctx: number) => number;
  readonly chain32: (ctx: number, count: number) => number;
  readonly repeat32: (ctx: number, n: number) => number;
  readonly done: WasmGlobal;
  readonly target: WasmGlobal;
  readonly chain: WasmGlobal;
  readonly stop: WasmGlobal;
  readonly sp: WasmGlobal;
  readonly fuel: { value: bigint };
  readonly depth: { value: number };
}

/**
 * JittedProgram: a program compiled to WebAssembly (compile.ts) and instantiated against the
 * machine's shared memory. Helpers, tail calls and LD_ABS/LD_IND reach JavaScript through
 * imports; run32 is the per-packet entry (no BigInt crosses it).
 */
class JittedProgram implements Prepared {
  readonly #x: Exports;
  readonly #main: (...a: bigint[]) => bigint;
  readonly #top: number;
  #tail: { target: Prepared; ctx: number } | undefined;
  #tailCount = 0;
  /** The context of a tail call that stays in WebAssembly (for the BigInt paths, which finish it here). */
  #tailCtx = 0;
  /** The machine's programs (tail-call targets) and where this one is among them (-1: not there). */
  readonly #shared: Shared;
  readonly #index: number = -1;
  executed = 0;

  readonly #budget: bigint;
  readonly #checked: boolean;

  constructor(program: CheckedProgram, machine: Machine, options: PrepareOptions) {
    this.#checked = options.checked === true || options.budget !== undefined;
    this.#shared = sharedOf(machine);
    const top = machine.stack.start + MAX_CALL_FRAMES * MAX_BPF_STACK;
    const budget = options.budget ?? DEFAULT_BUDGET;
    this.#budget = BigInt(budget);
    let bytes: Uint8Array;
    try {
      ({ bytes } = compileProgram(program, {
        resolveImm64: machine.resolveImm64,
        arrayLayout: machine.arrayLayout,
        lpmLayout: machine.lpmLayout,
        descriptorLayout: machine.descriptorLayout,
        tailIndex: machine.tailIndex,
        maxPages: MAX_PAGES,
        checked: this.#checked,
        stackTop: top,
        helperExists: (id) => machine.helpers.get(id) !== undefined,
        constantHelper: (id) => {
          const h = machine.helpers.get(id);
          return h?.constant && h.fn32 ? BigInt(h.fn32(0, 0, 0, 0, 0) >>> 0) : undefined;
        },
        helper32: (id) => (machine.helpers.get(id)?.fn32 ? (machine.helpers.get(id)!.ret ?? 'u32') : undefined),
      }));
    } catch (e) {
      if (e instanceof JitError) throw new LoadError(new InstructionError(e.slot, e.message, { cause: e }));
      throw e;
    }
    this.#top = top;
    const helpers = machine.helpers;
    const env: HelperEnv & { pc: number } = {
      memory: machine.memory,
      pc: 0,
      callback: (fn, ...args) => {
        const f = this.#x[`f${Number(fn) - CALLBACK_TAG}`] as ((...a: bigint[]) => bigint) | undefined;
        if (!f) throw new RuntimeError(0, `callback 0x${fn.toString(16)} is not a function of this program`);
        const sp = this.#x.sp.value as number;
        const r0 = f(...[0, 1, 2, 3, 4].map((n) => args[n] ?? 0n), BigInt(sp - MAX_BPF_STACK));
        this.#x.sp.value = sp;
        return BigInt.asUintN(64, r0);
      },
    };
    const u = (v: bigint) => BigInt.asUintN(64, v);
    // the 32-bit forms by id, looked up once (helper32 is on the per-packet path)
    const fn32: ((r1: number, r2: number, r3: number, r4: number, r5: number) => number)[] = [];
    for (const i of program.insns) {
      const f = i.opcode === 0x85 && i.src === 0 ? helpers.get(Number(i.imm))?.fn32 : undefined;
      if (f) fn32[Number(i.imm)] = f;
    }
    const imports = {
      env: {
        mem: machine.memory.memory,
        helper: (id: number, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint, slot: number): bigint => {
          const h = helpers.get(id);
          if (!h) throw new RuntimeError(slot, `invalid func unknown#${id}`);
          env.pc = slot;
          try {
            return h.fn(u(r1), u(r2), u(r3), u(r4), u(r5), env);
          } catch (e) {
            if (e instanceof RuntimeError) throw e;
            throw new RuntimeError(slot, `helper ${h.name}#${h.id} failed`, { cause: e });
          }
        },
        helper32: (id: number, r1: number, r2: number, r3: number, r4: number, r5: number): number => fn32[id](r1, r2, r3, r4, r5),
        // 0: no tail call; k + 1: the compiled program at k of the machine's table (the chain stays in Wasm); -1: JavaScript runs the target
        tail: (ctx: number, map: number, index: number, count: number): number => {
          if (!machine.tailCall || count >= MAX_TAIL_CALL_CNT) return 0;
          const target = machine.tailCall(map >>> 0, index >>> 0);
          if (!target) return 0;
          if (!this.#checked && target instanceof JittedProgram && target.#shared === this.#shared && target.#index >= 0) {
            this.#tailCtx = ctx >>> 0;
            return target.#index + 1;
          }
          this.#tail = { target, ctx: ctx >>> 0 };
          this.#tailCount = count;
          return -1;
        },
        exhausted: (slot: number): never => {
          throw new RuntimeError(slot, `instruction budget of ${budget} exhausted`);
        },
        tooDeep: (slot: number): never => {
          throw new RuntimeError(slot, `the call stack of ${MAX_CALL_FRAMES + 1} frames is too deep`);
        },
        // checked mode: an address inside a mapped region with the access's permission (and aligned, for atomics)
        check: (addr: bigint, size: number, kind: number, slot: number): number => {
          const a = BigInt.asUintN(64, addr);
          const write = kind !== Access.READ;
          if (a > 0xffffffffn) throw new MemoryFault(slot, a, size, write ? 'write' : 'read');
          const n = Number(a);
          machine.memory.check(slot, n, size, write ? Perm.RW : Perm.READ);
          if (kind === Access.ATOMIC && n % size !== 0) throw new RuntimeError(slot, `misaligned atomic access at 0x${n.toString(16)}`);
          return n;
        },
        ldabs: (ctx: bigint, off: number, size: number, slot: number): bigint => {
          if (!machine.packetLoad) throw new RuntimeError(slot, 'LD_ABS/LD_IND need a program type with a packet context');
          const v = machine.packetLoad(Number(BigInt.asUintN(32, ctx)), off, size as 1 | 2 | 4);
          return v === undefined ? -1n : BigInt(v >>> 0);
        },
      },
    };
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { ...imports.env, progs: this.#shared.table } });
    this.#x = instance.exports as unknown as Exports;
    if (!this.#checked) this.#index = place(this.#shared, this, this.#x.chain32);
    this.#main = this.#x[`f${program.functions[0]}`] as (...a: bigint[]) => bigint;
    // checked programs count instructions and frames per run: only run() and run32 set that up
    if (!this.#checked) this.wasm = { run32: this.#x.run32, sp: this.#x.sp, stop: this.#x.stop, top: this.#top, index: this.#index };
  }

  readonly wasm?: WasmEntry;

  /** #after: what the run left pending: a tail call (run the target), an aborting packet load (0). */
  #after(r0: bigint): bigint {
    const stop = this.#x.stop.value as number;
    if (!stop) return r0;
    this.#x.stop.value = 0;
    if (stop === Stop.ABORT_ZERO) return 0n;
    if (stop === Stop.TAIL_WASM)
      return this.#shared.programs[this.#x.target.value]!.runTail(BigInt(this.#tailCtx), this.#x.chain.value + 1);
    const t = this.#tail!;
    this.#tail = undefined;
    return t.target.runTail(BigInt(t.ctx), this.#tailCount + 1);
  }

  run(args: RunArgs = {}): bigint {
    const a = (v: bigint | number | undefined) => (v === undefined ? 0n : BigInt.asIntN(64, BigInt(v)));
    this.#tailCount = 0;
    this.#x.chain.value = 0;
    this.#x.sp.value = this.#top;
    this.#x.fuel.value = this.#budget;
    this.#x.depth.value = 0;
    const r0 = this.#main(a(args.r1), a(args.r2), a(args.r3), a(args.r4), a(args.r5), BigInt(this.#top));
    if (this.#checked) this.executed = Number(this.#budget - this.#x.fuel.value);
    return this.#after(BigInt.asUintN(64, r0));
  }

  run32(ctx: number): number {
    return this.#run32(ctx, 0);
  }

  repeat32(ctx: number, n: number): number {
    if (this.#checked) {
      let r = 0;
      for (let i = 0; i < n; i++) r = this.run32(ctx);
      return r;
    }
    let r = 0;
    for (let left = n; left > 0; ) {
      this.#tailCount = 0;
      this.#x.sp.value = this.#top;
      r = this.#x.repeat32(ctx, left) >>> 0;
      left -= this.#x.done.value;
      // the last run left a tail call (or an aborting packet load) to finish
      if (this.#x.stop.value) r = this.#finish(r, 0);
    }
    return r;
  }

  /** #run32: the per-packet path; a tail call into another JIT-compiled program stays on it. */
  #run32(ctx: number, count: number): number {
    this.#tailCount = count;
    this.#x.sp.value = this.#top;
    return this.#finish(this.#x.chain32(ctx, count) >>> 0, count);
  }

  /** #finish completes what a run left to JavaScript: a tail call (run the target), an aborting packet load (0). */
  #finish(r: number, count: number): number {
    const stop = this.#x.stop.value as number;
    if (!stop) return r;
    this.#x.stop.value = 0;
    if (stop === Stop.ABORT_ZERO) return 0;
    const t = this.#tail!;
    this.#tail = undefined;
    if (t.target instanceof JittedProgram) return t.target.#run32(t.ctx, count + 1);
    return Number(BigInt.asUintN(32, t.target.runTail(BigInt(t.ctx), count + 1)));
  }

  dispose(): void {
    if (this.#index < 0 || this.#shared.programs[this.#index] !== this) return;
    this.#shared.table.set(this.#index, null);
    this.#shared.programs[this.#index] = undefined;
    this.#shared.free.push(this.#index);
  }

  runTail(ctx: bigint, count: number): bigint {
    this.#tailCount = count;
    this.#x.chain.value = count;
    this.#x.sp.value = this.#top;
    return this.#after(BigInt.asUintN(64, this.#main(BigInt.asIntN(64, ctx), 0n, 0n, 0n, 0n, BigInt(this.#top))));
  }
}

/** WasmTable: a WebAssembly.Table of functions (Node's type library does not declare one). */
interface WasmTable {
  readonly length: number;
  grow(n: number): number;
  set(i: number, f: unknown): void;
}

/** Shared: per machine (a runtime: one CPU), the compiled programs in a table that tail calls index. */
interface Shared {
  readonly table: WasmTable;
  readonly programs: (JittedProgram | undefined)[];
  /** Table entries freed by programs gone (dispose), used again first. */
  readonly free: number[];
  /** Entries handed out so far (the table grows by doubling). */
  used: number;
}
const SHARED = new WeakMap<object, Shared>();

/** sharedOf: the machine's Shared (a program on a machine without a `shared` object gets its own). */
function sharedOf(machine: Machine): Shared {
  const key = machine.shared ?? {};
  let s = SHARED.get(key);
  if (!s)
    SHARED.set(
      key,
      (s = {
        table: new (WebAssembly as unknown as { Table: new (d: { element: 'anyfunc'; initial: number }) => WasmTable }).Table({
          element: 'anyfunc',
          initial: 0,
        }),
        programs: [],
        free: [],
        used: 0,
      }),
    );
  return s;
}

/** place gives a program an entry of the machine's table. */
function place(s: Shared, p: JittedProgram, chain32: unknown): number {
  let i = s.free.pop();
  if (i === undefined) {
    if (s.used === s.table.length) s.table.grow(Math.max(16, s.table.length));
    i = s.used++;
  }
  s.table.set(i, chain32);
  s.programs[i] = p;
  return i;
}

/** jit is the fast Engine: eBPF compiled to WebAssembly, checked against the interpreter. */
export const jit: Engine = {
  name: 'jit',
  prepare(program: CheckedProgram, machine: Machine, options: PrepareOptions = {}): Prepared {
    return new JittedProgram(program, machine, options);
  },
};
