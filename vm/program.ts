import { type SlotMap, flowOf, slotMap } from './cfg.js';
import { InstructionError, LoadError } from './errors.js';
import { checkInitialised } from './initcheck.js';
import type { Instruction } from './instruction.js';
import { checkLegal } from './legality.js';

/** A callee starts with its arguments r1-r5 and its own frame pointer r10. */
const SUBPROG_ENTRY = 0b10000111110;
const SUBPROG_R10 = 1 << 10;

const checked: unique symbol = Symbol('checked');

/**
 * CheckedProgram is a program that passed the load checks: every instruction legal, every
 * jump and call inside the program and on an instruction boundary, no path falling off the
 * end, no register read before it is written. Only `checkProgram` makes one, so an engine
 * can rely on all of that. Programs loaded through BPF_PROG_LOAD are also verified
 * (`vm/verifier/verified.ts`); a CheckedProgram alone is what tests and vectors run.
 */
export interface CheckedProgram {
  readonly insns: readonly Instruction[];
  readonly slots: SlotMap;
  /** First slot of each function: 0 for the main program, then each bpf-to-bpf callee. */
  readonly functions: readonly number[];
  readonly [checked]: true;
}

/** CheckOptions: which registers hold values on entry to the main function. */
export interface CheckOptions {
  /** Registers initialised at entry, as rN numbers; default r1 (context) and r10. */
  readonly entryRegisters?: readonly number[];
  /**
   * The verifier walked every path and proved each register read initialised on it
   * (check_reg_arg's "!read_ok", path by path): the flow-insensitive check here would refuse
   * reads that are initialised on every path that reaches them (a loop's exit test that the
   * first pass never takes, a callee exit that leaves r0 unset for a caller that ignores it).
   */
  readonly registersProven?: boolean;
}

/**
 * checkProgram runs the load checks and returns a CheckedProgram, or throws a LoadError
 * whose cause names the instruction.
 */
export function checkProgram(insns: readonly Instruction[], options: CheckOptions = {}): CheckedProgram {
  try {
    if (insns.length === 0) throw new InstructionError(0, 'program is empty');
    const slots = slotMap(insns);
    for (let s = 0; s < slots.length; s++) {
      const i = slots.at[s];
      if (i) checkLegal(i, s);
    }
    const functions = new Set<number>([0]);
    for (let s = 0; s < slots.length; s++) {
      if (!slots.at[s]) continue;
      const flow = flowOf(slots, s);
      if (flow.call !== undefined) functions.add(flow.call);
      const ins = slots.at[s]!;
      if (ins.opcode === 0x18 && ins.src === 4) {
        // lddw BPF_PSEUDO_FUNC names a callback function
        const to = s + 1 + Number(BigInt.asIntN(32, ins.imm));
        if (to < 0 || to >= slots.length || !slots.at[to])
          throw new InstructionError(s, `callback at ${to} is not an instruction of the program`);
        functions.add(to);
      }
      if (flow.next.includes(slots.length)) {
        throw new InstructionError(s, 'falls off the end of the program: last insn is not an exit or jmp');
      }
    }
    let entryMask = 0;
    for (const r of options.entryRegisters ?? [1, 10]) entryMask |= 1 << r;
    const entries = new Map<number, number>();
    for (const f of functions) entries.set(f, f === 0 ? entryMask | SUBPROG_R10 : SUBPROG_ENTRY);
    if (!options.registersProven) checkInitialised(slots, entries);
    return Object.freeze({ insns, slots, functions: [...functions].sort((a, b) => a - b), [checked]: true as const });
  } catch (e) {
    if (e instanceof InstructionError) throw new LoadError(e);
    throw e;
  }
}
