import { type Instruction, insn } from '../instruction.js';
import { LDDW } from '../opcodes.js';

/** `ja -1`: the kernel's trap for dead code (sanitize_dead_code), a jump to itself that no path reaches. */
const TRAP = insn(0x05, 0, 0, -1, 0);

/**
 * sanitizeDeadCode: the kernel's sanitize_dead_code. Every instruction no path of the verifier's
 * walk reached (`seen[slot] === 0`) becomes `ja -1`; a dead `lddw` becomes two, so every slot
 * keeps its index and every jump its target. The kernel never runs dead code, and its contents
 * (a register read before any write, a write to r10) are not checked; after this no engine can
 * run it either, and the load checks (vm/program.ts) see only code the verifier walked.
 */
export function sanitizeDeadCode(insns: readonly Instruction[], seen: Uint8Array): readonly Instruction[] {
  let slot = 0;
  let dead = false;
  for (const i of insns) {
    if (!seen[slot]) dead = true;
    slot += i.opcode === LDDW ? 2 : 1;
  }
  if (!dead) return insns;
  const out: Instruction[] = [];
  slot = 0;
  for (const i of insns) {
    const w = i.opcode === LDDW ? 2 : 1;
    if (seen[slot]) out.push(i);
    else for (let k = 0; k < w; k++) out.push(TRAP);
    slot += w;
  }
  return out;
}
