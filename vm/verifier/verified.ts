import type { Instruction } from '../instruction.js';
import { LoadError } from '../errors.js';
import { type CheckedProgram, checkProgram } from '../program.js';
import { sanitizeDeadCode } from './deadCode.js';
import { EINVAL } from './refuse.js';
import { type VerifyOptions, type VerifyResult, verify } from './verify.js';

const verified: unique symbol = Symbol('verified');

/**
 * VerifiedProgram: a program the verifier accepted. Only `verifyProgram` makes one, so what
 * holds one (a loaded ProgObject, an engine given it by BPF_PROG_LOAD) knows every path is
 * safe: memory in bounds, registers initialised, calls and loops within the kernel's limits.
 */
export interface VerifiedProgram extends CheckedProgram {
  readonly [verified]: true;
  /** Stack bytes each function uses, by its first slot. */
  readonly stackDepth: ReadonlyMap<number, number>;
  /**
   * Some path writes packet memory through a packet pointer (a store, or a helper given one to
   * fill); helpers that change a packet by offset (bpf_skb_store_bytes, the adjust helpers) do
   * not count. A program that neither writes nor calls those can run on a packet where it lies.
   */
  readonly writesPacket: boolean;
  /** The slots the verifier reached; the others are dead code, rewritten `ja -1` (sanitize_dead_code). */
  readonly seen: Uint8Array;
}

/** verifyProgram runs the verifier and, when it accepts, gives the program as a VerifiedProgram beside the result. */
export function verifyProgram(
  insns: readonly Instruction[],
  options: VerifyOptions,
): { readonly result: VerifyResult; readonly program?: VerifiedProgram } {
  const result = verify(insns, options);
  if (!result.ok) return { result };
  // the structural checks hold for whatever the verifier accepts; they index the program for the
  // engines, and see only the code the verifier walked (dead code is `ja -1`, as the kernel leaves
  // it); which registers are read initialised the verifier proved path by path, more precisely
  let checked: CheckedProgram;
  try {
    checked = checkProgram(sanitizeDeadCode(insns, result.seen), { registersProven: true });
  } catch (e) {
    // a disagreement is bpfbox's bug; the program is refused rather than run unchecked
    if (!(e instanceof LoadError)) throw e;
    const message = `bpfbox: the verifier accepted what the load checks refuse: ${e.message}`;
    return {
      result: {
        ...result,
        ok: false,
        insn: e.index,
        errno: EINVAL,
        message,
        log: [...result.log.slice(0, -1), message, ...result.log.slice(-1)],
      },
    };
  }
  return {
    result,
    program: Object.freeze({
      ...checked,
      stackDepth: result.stackDepth,
      writesPacket: result.writesPacket,
      seen: result.seen,
      [verified]: true as const,
    }),
  };
}

/**
 * VerifiedFacts: what the verifier found about a program it accepted, beyond what the load
 * checks find again, as plain data (a structured clone keeps it; it loses VerifiedProgram's brand).
 */
export interface VerifiedFacts {
  readonly stackDepth: readonly (readonly [number, number])[];
  readonly writesPacket: boolean;
  /** The slots the verifier reached (the rest is dead code, `ja -1`). */
  readonly seen: Uint8Array;
}

/** verifiedFacts: a VerifiedProgram's facts, to send with its bytecode to another thread. */
export function verifiedFacts(p: VerifiedProgram): VerifiedFacts {
  return { stackDepth: [...p.stackDepth], writesPacket: p.writesPacket, seen: p.seen };
}

/**
 * adoptVerified rebuilds, in a worker thread, a program the verifier accepted in the thread
 * that loaded it: the same instructions and the facts `verifiedFacts` took from that
 * VerifiedProgram. The load checks run again (they are cheap and index the program for the
 * engines); the walk does not, since with the same instructions, maps and options it decides
 * the same, and it is the slow part (katran's balancer: seconds per worker). Only a loader's
 * own workers call this, with what its BPF_PROG_LOAD verified.
 */
export function adoptVerified(insns: readonly Instruction[], facts: VerifiedFacts): VerifiedProgram {
  return Object.freeze({
    ...checkProgram(sanitizeDeadCode(insns, facts.seen), { registersProven: true }),
    stackDepth: new Map(facts.stackDepth),
    writesPacket: facts.writesPacket,
    seen: facts.seen,
    [verified]: true as const,
  });
}
