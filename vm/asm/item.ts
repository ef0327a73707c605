import type { Instruction } from '../instruction.js';
import type { Target } from './operands.js';

/**
 * AsmItem is one parsed line: either a finished instruction, or one whose jump/call
 * target still has to be resolved to a relative offset (in the offset or imm field).
 */
export interface AsmItem {
  readonly insn: Instruction;
  readonly target?: Target;
  /** Which field receives the resolved relative offset. */
  readonly field?: 'offset' | 'imm';
}
