import { MemoryFault } from '../errors.js';
import type { Machine, Prepared } from '../engine.js';
import { Perm } from '../memory.js';
import { BPF_MAX_LOOPS, MAX_CALL_FRAMES } from '../opcodes.js';

/** Step executes one instruction and returns the next slot, or a negative Stop code. */
export type Step = () => number;

/** Stop codes a Step returns instead of a slot. */
export const Stop = { EXIT: -1, TAIL_CALL: -2, ABORT_ZERO: -3, CALLBACK_RETURN: -4 } as const;

/** Words saved per call frame: return slot, r6-r9 (lo, hi), r10. */
const FRAME_WORDS = 10;

/**
 * ExecState is the interpreter's machine state for one prepared program: the register file
 * as int32 halves (r0-r10, then one read-only slot per immediate operand), the memory views
 * with the last readable and writable region cached, and the saved call frames.
 */
export class ExecState {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  readonly machine: Machine;
  dv!: DataView;
  i32!: Int32Array;
  i64!: BigInt64Array;
  /** Cached readable range [rs, re) and writable range [ws, we). */
  rs = 0;
  re = 0;
  ws = 0;
  we = 0;
  readonly frames = new Int32Array(8 * FRAME_WORDS);
  depth = 0;
  /**
   * loops: each frame's may_goto counter (the kernel's hidden stack slot), BPF_MAX_LOOPS at every
   * function entry (pushFrame, and a run's start), counted down by may_goto.
   */
  readonly loops = new Int32Array(MAX_CALL_FRAMES + 1);
  tailTarget: Prepared | undefined;
  /** Tail calls taken so far in this chain. */
  tailCount = 0;
  /** Runs a function of this program for a helper (set by the engine). */
  callback?: (fn: bigint, ...args: bigint[]) => bigint;

  constructor(machine: Machine, registerSlots: number) {
    this.machine = machine;
    this.lo = new Int32Array(registerSlots);
    this.hi = new Int32Array(registerSlots);
    this.refresh();
  }

  /** refresh re-creates the memory views if the shared memory grew. */
  refresh(): void {
    const space = this.machine.memory;
    space.refresh();
    if (this.dv !== space.view) {
      this.dv = space.view;
      this.i32 = space.i32;
      this.i64 = new BigInt64Array(space.view.buffer);
      this.rs = this.re = this.ws = this.we = 0;
    }
  }

  /** address returns the 32-bit address of reg+off, or throws a fault for anything wider. */
  address(slot: number, reg: number, off: number, size: number, write: boolean): number {
    const hi = this.hi[reg];
    const a = (this.lo[reg] >>> 0) + off;
    if (hi !== 0 || a < 0 || a > 0xffffffff) {
      const full = BigInt.asUintN(64, ((BigInt(hi) << 32n) | BigInt(this.lo[reg] >>> 0)) + BigInt(off));
      throw new MemoryFault(slot, full, size, write ? 'write' : 'read');
    }
    return a;
  }

  /** readSlow validates a read the cache missed and caches its region. */
  readSlow(slot: number, reg: number, off: number, size: number): void {
    const a = this.address(slot, reg, off, size, false);
    const r = this.machine.memory.check(slot, a, size, Perm.READ);
    this.rs = r.start;
    this.re = r.start + r.size;
  }

  /** writeSlow validates a write the cache missed and caches its region. */
  writeSlow(slot: number, reg: number, off: number, size: number): void {
    const a = this.address(slot, reg, off, size, true);
    const r = this.machine.memory.check(slot, a, size, Perm.RW);
    this.ws = r.start;
    this.we = r.start + r.size;
  }

  /** pushFrame saves the caller's r6-r9 and r10 for a bpf-to-bpf call; false when too deep. */
  pushFrame(returnSlot: number, maxFrames: number): boolean {
    if (this.depth + 1 >= maxFrames) return false;
    const f = this.frames;
    const at = this.depth * FRAME_WORDS;
    f[at] = returnSlot;
    for (let r = 6; r <= 9; r++) {
      f[at + 1 + (r - 6) * 2] = this.lo[r];
      f[at + 2 + (r - 6) * 2] = this.hi[r];
    }
    f[at + 9] = this.lo[10];
    this.depth++;
    this.loops[this.depth] = BPF_MAX_LOOPS;
    return true;
  }

  /** popFrame restores the caller's registers and returns the slot to continue at. */
  popFrame(): number {
    this.depth--;
    const f = this.frames;
    const at = this.depth * FRAME_WORDS;
    for (let r = 6; r <= 9; r++) {
      this.lo[r] = f[at + 1 + (r - 6) * 2];
      this.hi[r] = f[at + 2 + (r - 6) * 2];
    }
    this.lo[10] = f[at + 9];
    this.hi[10] = 0;
    return f[at];
  }
}
