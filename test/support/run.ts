import type { Engine, Machine, PrepareOptions } from '../../vm/engine.js';
import { type Helper, HelperRegistry } from '../../vm/helpers.js';
import type { Instruction } from '../../vm/instruction.js';
import { interpreter } from '../../vm/interpreter/interpreter.js';
import { jit } from '../../vm/jit/jit.js';
import { type MachineOptions, createMachine } from '../../vm/machine.js';
import { AddressSpace, Perm } from '../../vm/memory.js';
import { checkProgram } from '../../vm/program.js';
import { type Item, link } from '../../vm/dsl.js';

/** engines lists every Engine the shared unit tests run on. */
export const engines: readonly Engine[] = [interpreter, jit];

/** RunOptions for the test harness. */
export interface RunOptions extends PrepareOptions {
  readonly engine?: Engine;
  readonly mem?: Uint8Array;
  readonly helpers?: readonly Helper[];
  readonly machine?: Partial<MachineOptions>;
}

/** RunResult: r0, the memory after the run, and the machine it ran on. */
export interface RunResult {
  readonly r0: bigint;
  readonly mem: Uint8Array;
  readonly memAddr: number;
  readonly machine: Machine;
  readonly executed: number;
}

/** run links (if needed), checks, prepares and runs a program with r1 = mem, r2 = its length. */
export function run(program: readonly Item[] | readonly Instruction[], options: RunOptions = {}): RunResult {
  const insns = program.length > 0 && 'kind' in program[0] ? link(program as Item[]) : (program as Instruction[]);
  const memory = new AddressSpace({ initialBytes: 1 << 20 });
  const machine = createMachine({ memory, helpers: new HelperRegistry(options.helpers ?? []), ...options.machine });
  const size = options.mem?.length ?? 0;
  const region = memory.map(Math.max(size, 1), Perm.RW, 'test/mem');
  if (options.mem) memory.u8.set(options.mem, region.start);
  // unverified programs: checked (the JIT checks accesses, frames and the budget only when asked)
  const prepared = (options.engine ?? interpreter).prepare(checkProgram(insns, { entryRegisters: [1, 2, 10] }), machine, {
    checked: true,
    ...options,
  });
  const r0 = prepared.run({ r1: region.start, r2: size });
  return { r0, mem: memory.u8.slice(region.start, region.start + size), memAddr: region.start, machine, executed: prepared.executed };
}

/** u64 reinterprets a signed BigInt literal as the unsigned value r0 holds. */
export const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
