import { type Scalar, UNKNOWN, scalarConst } from './scalar.js';

/**
 * Reg: what the verifier knows a register holds (the kernel's bpf_reg_state): nothing yet,
 * a scalar, or a pointer of a kind with a fixed offset from the object's start.
 */
export type Reg =
  | { readonly k: 'none' }
  | { readonly k: 'scalar'; readonly s: Scalar }
  | { readonly k: 'ctx'; readonly off: number }
  | { readonly k: 'stack'; readonly off: number }
  /** A packet pointer `off` bytes past data (or data_meta); `range`: bytes from data proven below data_end. */
  | { readonly k: 'pkt' | 'pkt_meta'; readonly off: number; readonly range: number }
  | { readonly k: 'pkt_end'; readonly off: number }
  /** A map (lddw BPF_PSEUDO_MAP_FD), a value in it, or what a lookup returned before its NULL check (`id` ties copies together). */
  | { readonly k: 'map_ptr'; readonly map: number; readonly off: number }
  | { readonly k: 'map_value'; readonly map: number; readonly off: number }
  | { readonly k: 'map_value_or_null'; readonly map: number; readonly off: number; readonly id: number };

/** MapInfo: what the verifier needs of a map the program names. */
export interface MapInfo {
  readonly keySize: number;
  readonly valueSize: number;
  /** A map of maps: a lookup gives an inner map, not a value. */
  readonly ofMaps?: boolean;
  /** An array map (`lddw BPF_PSEUDO_MAP_VALUE` may address the value of one with a single entry, as global data). */
  readonly array?: boolean;
  readonly maxEntries?: number;
  /** BPF_F_RDONLY_PROG (as `.rodata`): programs may read the values, not write them. */
  readonly readonlyProg?: boolean;
}

export const NONE: Reg = { k: 'none' };
export const scalar = (s: Scalar): Reg => ({ k: 'scalar', s });
export const unknownScalar: Reg = scalar(UNKNOWN);
export const constReg = (v: bigint): Reg => scalar(scalarConst(v));

/** MAX_BPF_STACK: the 512 bytes below r10. */
export const STACK_SIZE = 512;

/**
 * StackSlot: what an 8-byte stack slot holds: nothing written yet, bytes (`misc`, written
 * per byte), or a register spilled whole (a pointer keeps its kind when filled back).
 */
export type StackSlot = { readonly k: 'invalid' } | { readonly k: 'misc'; readonly written: number } | { readonly k: 'spill'; readonly reg: Reg };

/** FrameState: the registers and the stack of one function frame. */
export interface FrameState {
  readonly regs: Reg[];
  /** Slot i covers fp-8*(i+1) .. fp-8*i-1. */
  readonly stack: StackSlot[];
}

/** entryState: r1 the context, r10 the frame pointer, the rest not initialised. */
export function entryState(): FrameState {
  const regs: Reg[] = Array.from({ length: 11 }, () => NONE);
  regs[1] = { k: 'ctx', off: 0 };
  regs[10] = { k: 'stack', off: 0 };
  return { regs, stack: Array.from({ length: STACK_SIZE / 8 }, () => ({ k: 'invalid' }) as StackSlot) };
}

/** regName: the kernel log's name of a register's kind (scalar, ctx, fp). */
export const kindName = (r: Reg): string => (r.k === 'none' ? '?' : r.k === 'stack' ? 'fp' : r.k);
