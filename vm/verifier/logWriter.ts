/**
 * The verifier log as the kernel writes it while it walks (bpf_verifier_log with its
 * end_pos, prev_insn_print_pos and the scratched registers of print_insn_state): lines, a line
 * left open for the next text, rewinding to a branch's push position at level 1, and which
 * registers and stack slots an instruction touched. walk.ts drives it.
 */
import { disassemble } from '../disassembler.js';
import { AluOp, Class, JmpOp, LDDW, Mode, Pseudo, Source, opClass } from '../opcodes.js';
import type { Instruction } from '../instruction.js';
import { type Scratched, stateText } from './log.js';
import type { VState } from './state.js';

/** LogPos: a place in the log (the kernel's log end_pos): lines kept, and how much of the last one. */
export interface LogPos {
  readonly lines: number;
  readonly chars: number;
}

const ALL_REGS = 0x7ff;
const ALL_SLOTS = (1n << 64n) - 1n;

/**
 * insnText: an instruction as the verifier's log prints it (print_bpf_insn): `7: (18) r1 = 0x10`;
 * a 64-bit constant without the assembler's ` ll` (the kernel's disassembler has no cb_imm
 * there; a map's lddw keeps bpfbox's `map[fd:N] ll`, where the kernel prints the map's address).
 */
export function insnText(slot: number, i: Instruction): string {
  let text = disassemble(i).replace(/^(r\d+ = 0x[0-9a-f]+) ll$/, '$1');
  // a function's address: the kernel prints the lddw's immediate (the offset to the function)
  if (i.opcode === LDDW && i.src === Pseudo.BPF_PSEUDO_FUNC) text = `r${i.dst} = 0x${BigInt.asUintN(64, i.imm).toString(16)}`;
  // atomics name the source register rN whatever the width (print_bpf_insn)
  if (opClass(i.opcode) === Class.BPF_STX && (i.opcode & 0xe0) === Mode.BPF_ATOMIC) text = text.replace(/\bw(\d+)\b/g, 'r$1');
  return `${slot}: (${i.opcode.toString(16).padStart(2, '0')}) ${text}`;
}

/**
 * touched: the registers an instruction names (check_reg_arg marks them scratched, read or
 * written): destination and source register, r6 and r0-r5 for packet loads, r0-r5 for calls.
 */
export function touched(i: Instruction): number {
  const cls = opClass(i.opcode);
  const op = i.opcode & 0xf0;
  const x = (i.opcode & Source.BPF_X) !== 0;
  switch (cls) {
    case Class.BPF_LD:
      if (i.opcode === LDDW) return 1 << i.dst;
      return (1 << 6) | 0x3f | ((i.opcode & 0xe0) === Mode.BPF_IND ? 1 << i.src : 0);
    case Class.BPF_LDX:
    case Class.BPF_STX:
      return (1 << i.dst) | (1 << i.src);
    case Class.BPF_ST:
      return 1 << i.dst;
    case Class.BPF_ALU:
    case Class.BPF_ALU64:
      // BPF_END's source bit is the byte order, BPF_NEG has none: the destination only
      if (op === AluOp.BPF_END || op === AluOp.BPF_NEG) return 1 << i.dst;
      return (1 << i.dst) | (x ? 1 << i.src : 0);
    default:
      if (op === JmpOp.BPF_CALL) return 0x3f;
      if (op === JmpOp.BPF_EXIT) return 1;
      if (op === JmpOp.BPF_JA || op === JmpOp.BPF_JCOND) return 0; // may_goto names no register
      return (1 << i.dst) | (x ? 1 << i.src : 0);
  }
}

/**
 * LogWriter: the verifier log as the kernel writes it: the instruction, then on its line what
 * it touched (print_insn_state, aligned as vlog_alignment does), or on a line of its own
 * (`7: R0=...`) when something was printed in between; a rewind to a branch's position cuts
 * the line it lands in (pop_stack's bpf_vlog_reset), and what follows goes on that line.
 */
export class LogWriter {
  /** The instruction line last printed, while nothing has been printed after it (prev_log_pos). */
  #insnAt: LogPos | undefined;
  /** The last line is open: the next text goes on it. */
  #open = false;
  readonly #scratched: Scratched = { regs: ALL_REGS, slots: ALL_SLOTS };

  readonly log: string[];

  constructor(log: string[]) {
    this.log = log;
  }

  /** emit: a line (a leading newline ends an open line first, or makes an empty one). */
  emit(text: string): void {
    if (text.startsWith('\n')) {
      if (!this.#open) this.log.push('');
      this.#open = false;
      text = text.slice(1);
    }
    if (this.#open) this.log[this.log.length - 1] += text;
    else this.log.push(text);
    this.#open = false;
  }

  insn(text: string): void {
    this.emit(text);
    this.#insnAt = { lines: this.log.length, chars: text.length };
  }

  pos(): LogPos {
    // the position after the last line's newline
    return { lines: this.log.length, chars: (this.log[this.log.length - 1] ?? '').length + 1 };
  }

  rewind(p: LogPos): void {
    this.log.length = p.lines;
    const last = this.log[p.lines - 1];
    // the line was extended after the position was taken: cut it there, and it stays open
    if (last !== undefined && last.length >= p.chars) {
      this.log[p.lines - 1] = last.slice(0, p.chars);
      this.#open = true;
    } else this.#open = false;
    this.#insnAt = undefined;
  }

  scratch(regs: number, slot: number | undefined): void {
    this.#scratched.regs |= regs;
    if (slot !== undefined) this.#scratched.slots |= 1n << BigInt(slot);
  }

  scratchAll(): void {
    this.#scratched.regs = ALL_REGS;
    this.#scratched.slots = ALL_SLOTS;
  }

  /** insnState: print_insn_state, when something was touched (`always`: check_cond_jmp_op prints regardless). */
  insnState(slot: number, vs: VState, always = false): void {
    const sc = this.#scratched;
    if (!always && !sc.regs && !sc.slots) return;
    const state = stateText(vs, sc);
    const text = state ? ` ${state}` : '';
    const at = this.#insnAt;
    const last = this.log.length - 1;
    if (at && !this.#open && at.lines === this.log.length && this.log[last].length === at.chars) {
      // vlog_alignment: the ';' at a multiple of 8, column 38 at least
      const pos = at.chars + 1;
      const width = Math.ceil(Math.max(pos + 4, 40) / 8) * 8 - pos - 1;
      this.log[last] += `${' '.repeat(width)};${text}`;
    } else this.emit(`${slot}:${text}`);
    sc.regs = 0;
    sc.slots = 0n;
  }
}
