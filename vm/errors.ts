/**
 * BpfError is the root of every error bpfbox raises about programs and bytecode. Messages are
 * lower-case `context: detail` chains.
 */
export class BpfError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** DecodeError: bytecode that cannot be split into instructions (length, a missing `lddw` half). */
export class DecodeError extends BpfError {
  readonly index: number;
  constructor(index: number, detail: string) {
    super(`decode: insn ${index}: ${detail}`);
    this.index = index;
  }
}

/** InstructionError: an instruction that is malformed or misplaced, named by its slot index. */
export class InstructionError extends BpfError {
  readonly index: number;
  constructor(index: number, detail: string, options?: { cause?: unknown }) {
    super(`insn ${index}: ${detail}`, options);
    this.index = index;
  }
}

/** LoadError wraps the first problem found while checking a program for loading. */
export class LoadError extends BpfError {
  readonly index: number;
  constructor(cause: InstructionError) {
    super(`load program: ${cause.message}`, { cause });
    this.index = cause.index;
  }
}

/** AssemblyError: assembly text that cannot be assembled, named by its line. */
export class AssemblyError extends BpfError {
  readonly line: number;
  constructor(line: number, detail: string) {
    super(`assemble: line ${line}: ${detail}`);
    this.line = line;
  }
}

/** MemoryFault: an access outside the mapped regions or against their permissions. */
export class MemoryFault extends BpfError {
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
export class RuntimeError extends BpfError {
  readonly pc: number;
  constructor(pc: number, detail: string, options?: { cause?: unknown }) {
    super(`run: insn ${pc}: ${detail}`, options);
    this.pc = pc;
  }
}

