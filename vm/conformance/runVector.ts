import { assemble } from '../asm/assembler.js';
import { decode } from '../decode.js';
import type { Engine } from '../engine.js';
import { BpfError, ProgramFault } from '../errors.js';
import { HelperRegistry } from '../helpers.js';
import type { Instruction } from '../instruction.js';
import { createMachine } from '../machine.js';
import { AddressSpace, Perm } from '../memory.js';
import { checkProgram } from '../program.js';
import type { ConformanceVector } from './vector.js';

/** RunVectorOptions: an address space to reuse, and a tracer for every executed instruction. */
export interface RunVectorOptions {
  readonly memory?: AddressSpace;
  readonly trace?: (line: string) => void;
}

/** Where a vector stopped: the stage that failed, or `run` when it ran to the end. */
export type Stage = 'assemble' | 'load' | 'run';

/** VectorOutcome says whether a vector behaved as it expects, and what happened. */
export interface VectorOutcome {
  readonly file: string;
  readonly passed: boolean;
  readonly stage: Stage;
  readonly expected: string;
  readonly got: string;
}

/** conformanceHelpers: helper 5 is `bpf_ktime_get_ns`, which the suite calls and needs non-zero. */
export function conformanceHelpers(): HelperRegistry {
  const ns = () => BigInt(Math.round(performance.now() * 1e6)) + 1n;
  return new HelperRegistry([{ id: 5, name: 'bpf_ktime_get_ns', fn: ns }]);
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

/**
 * runVector assembles (or decodes), checks, prepares and runs one vector on `engine`, with
 * r1 pointing at a copy of its memory and r2 holding the memory's length.
 */
export function runVector(v: ConformanceVector, engine: Engine, options: RunVectorOptions = {}): VectorOutcome {
  const { memory, trace } = options;
  const expected = v.error !== undefined ? `error${v.error ? ` '${v.error}'` : ''}` : hex(v.result!);
  const outcome = (stage: Stage, got: string, ok: boolean): VectorOutcome => ({ file: v.name, passed: ok, stage, expected, got });
  const failed = (stage: Stage, e: unknown): VectorOutcome => {
    if (!(e instanceof BpfError) && !(e instanceof ProgramFault)) throw e;
    return outcome(stage, `error: ${e.message}`, v.error !== undefined);
  };
  let insns: Instruction[];
  try {
    insns = v.raw ? decode(v.raw) : assemble(v.asm!);
  } catch (e) {
    return failed('assemble', e);
  }
  const space = memory ?? new AddressSpace({ initialBytes: 1 << 20 });
  const machine = createMachine({ memory: space, helpers: conformanceHelpers() });
  const region = v.mem.length > 0 ? space.map(v.mem.length, Perm.RW, `${v.name}/mem`) : undefined;
  try {
    let prepared;
    try {
      prepared = engine.prepare(checkProgram(insns, { entryRegisters: [1, 2, 10] }), machine, { budget: 10_000_000, trace });
    } catch (e) {
      return failed('load', e);
    }
    if (region) space.u8.set(v.mem, region.start);
    let r0: bigint;
    try {
      r0 = prepared.run({ r1: region?.start ?? 0, r2: v.mem.length });
    } catch (e) {
      return failed('run', e);
    }
    return outcome('run', hex(r0), v.result !== undefined && r0 === v.result);
  } finally {
    if (region) space.unmap(region);
    space.unmap(machine.stack);
  }
}
