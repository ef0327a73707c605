import { UserError } from '../uapi/userError.js';

/**
 * BpfError is the root of the errors a program the user gave causes before it runs: bytes
 * that do not decode, text that does not assemble, an instruction a loader refuses, an object
 * file that cannot be read, the verifier's refusal. It is a UserError. (A run that stops is a
 * ProgramFault instead.) Messages are lower-case `context: detail` chains.
 */
export class BpfError extends UserError {}

/** DecodeError: bytecode that cannot be split into instructions (length, a missing `lddw` half). */
export class DecodeError extends BpfError {
  declare readonly index: number;
  constructor(index: number, detail: string) {
    super(`decode: insn ${index}: ${detail}`, { index });
  }
}

/** InstructionError: an instruction that is malformed or misplaced, named by its slot index. */
export class InstructionError extends BpfError {
  declare readonly index: number;
  constructor(index: number, detail: string, options?: { cause?: unknown }) {
    super(`insn ${index}: ${detail}`, { ...options, index });
  }
}

/** LoadError wraps the first problem found while checking a program for loading. */
export class LoadError extends BpfError {
  declare readonly index: number;
  constructor(cause: InstructionError) {
    super(`load program: ${cause.message}`, { cause, index: cause.index });
  }
}

/** AssemblyError: assembly text that cannot be assembled, named by its line. */
export class AssemblyError extends BpfError {
  declare readonly line: number;
  constructor(line: number, detail: string, options?: { cause?: unknown }) {
    super(`assemble: line ${line}: ${detail}`, { ...options, line });
  }
}

/**
 * ProgramFault is the root of the ways a run stops: an access outside memory, the instruction
 * budget, the call depth, a missing or failing helper. It is not a UserError: a verified
 * program never faults (one that does is a bpfbox bug), and where an unverified one runs its
 * caller makes the fault the run's outcome (a conformance vector's `-- error`, replay's count
 * of aborted runs).
 */
export class ProgramFault extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** MemoryFault: an access outside the mapped regions or against their permissions. */
export class MemoryFault extends ProgramFault {
  readonly pc: number;
  readonly address: number | bigint;
  readonly size: number;
  readonly access: 'read' | 'write';
  constructor(pc: number, address: number | bigint, size: number, access: 'read' | 'write') {
    const hex = `0x${address.toString(16)}`;
    super(`run: insn ${pc}: invalid ${access} of ${size} byte${size === 1 ? '' : 's'} at ${hex}`);
    this.pc = pc;
    this.address = address;
    this.size = size;
    this.access = access;
  }
}

/** RuntimeError: a run stopped for another reason (budget, call depth, missing helper), with the pc. */
export class RuntimeError extends ProgramFault {
  readonly pc: number;
  constructor(pc: number, detail: string, options?: { cause?: unknown }) {
    super(`run: insn ${pc}: ${detail}`, options);
    this.pc = pc;
  }
}
