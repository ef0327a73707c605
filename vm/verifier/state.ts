import { type Scalar, UNKNOWN, scalarConst } from './scalar.js';

/** MapInfo: what the verifier needs of a map the program names. */
export interface MapInfo {
  /** BPF_MAP_TYPE_* number (0 when the caller does not say; then type-specific rules are skipped). */
  readonly type?: number;
  readonly keySize: number;
  readonly valueSize: number;
  /** A map of maps: a lookup gives an inner map (described by `inner`), not a value. */
  readonly ofMaps?: boolean;
  readonly inner?: MapInfo;
  /** An array map (`lddw BPF_PSEUDO_MAP_VALUE` may address the value of one with a single entry, as global data). */
  readonly array?: boolean;
  readonly maxEntries?: number;
  /** BPF_F_RDONLY_PROG (as `.rodata`): programs may read the values, not write them. */
  readonly readonlyProg?: boolean;
  /** BPF_F_WRONLY_PROG: programs may write the values, not read them. */
  readonly writeonlyProg?: boolean;
  /** A frozen map (bpf_map_freeze): its values are constants (as `.rodata`, for format strings). */
  readonly frozen?: boolean;
  /**
   * The value of a one-entry array that is read-only for programs and frozen (`.rodata`):
   * loads at a constant offset read it as a known scalar (bpf_map_direct_read).
   */
  readonly constValue?: Uint8Array;
  /** The map's name (the kernel's messages name it). */
  readonly name?: string;
  /** Whether BTF describes the value, and where in it a `struct bpf_spin_lock` lies. */
  readonly btf?: boolean;
  readonly spinLock?: number;
  /** Where in the value a `struct bpf_timer` lies (btf_record's timer_off), when BTF places one. */
  readonly timer?: number;
  /** The value's kptr fields (btf_record's BPF_KPTR_*), when BTF places any (kptr.ts). */
  readonly kptrs?: readonly KptrInfo[];
}

/**
 * KptrInfo: a kptr field of a map value: its offset, its tag (`kptr` referenced, `kptr_untrusted`,
 * `percpu_kptr`) and the kernel struct it points to.
 */
export interface KptrInfo {
  readonly off: number;
  readonly tag: 'kptr' | 'kptr_untrusted' | 'percpu_kptr';
  readonly struct: string;
}

/**
 * Reg: what the verifier knows a register holds (the kernel's bpf_reg_state): nothing yet,
 * a scalar, or a pointer of a kind with a fixed offset `off` and, for packets and map values,
 * a variable part `var` (bounds of what was added; a constant 0 when nothing was).
 */
export type Reg =
  | { readonly k: 'none' }
  /**
   * A number; `precise` once a safety decision depended on its value (state pruning then compares it);
   * `id`: the scalar id a copy shares with its source (assign_scalar_id_before_mov), `delta` the
   * constant added to the copy since (BPF_ADD_CONST, the log's `id=1+5`). A comparison's bounds reach
   * every register sharing the id (linked.ts: sync_linked_regs); pruning maps ids (prune.ts: check_scalar_ids).
   */
  | { readonly k: 'scalar'; readonly s: Scalar; readonly precise?: boolean; readonly id?: number; readonly delta?: number }
  /** The context; `var` the bounds of a variable part added to it (any access then refused). */
  | { readonly k: 'ctx'; readonly off: number; readonly var?: Scalar }
  /**
   * A pointer into the stack of call frame `frame` (0: the main function); `var` the bounds of a
   * variable part added to it (privileged: check_stack_read_var_off / check_stack_write_var_off).
   */
  | { readonly k: 'stack'; readonly off: number; readonly frame: number; readonly var?: Scalar }
  /**
   * A packet pointer `off` bytes past data (or data_meta) plus `var`; `range`: bytes past
   * the pointer proven below data_end; pointers with the same `id` share `var` (id 0: none).
   */
  | { readonly k: 'pkt' | 'pkt_meta'; readonly off: number; readonly range: number; readonly id: number; readonly var: Scalar }
  | { readonly k: 'pkt_end'; readonly off: number }
  /** A map (lddw BPF_PSEUDO_MAP_FD or an inner map), a value in it, or what a lookup returned before its NULL check (`id` ties copies together). */
  | { readonly k: 'map_ptr'; readonly m: MapInfo; readonly off: number }
  /** `id`: the lookup that gave it, kept for values holding a bpf_spin_lock (which lock is held is map and id). */
  | { readonly k: 'map_value'; readonly m: MapInfo; readonly off: number; readonly var: Scalar; readonly id?: number }
  | { readonly k: 'map_value_or_null'; readonly m: MapInfo; readonly off: number; readonly id: number }
  | { readonly k: 'map_ptr_or_null'; readonly m: MapInfo; readonly off: number; readonly id: number }
  /**
   * Ring buffer memory from bpf_ringbuf_reserve (`ref`: the reference to release), or, with
   * `btf`, a kernel object a kfunc gave (the kernel's PTR_TO_BTF_ID: `btf` names its struct,
   * `size` its size; always read-only here; `ref` the reference a KF_ACQUIRE kfunc took).
   */
  | {
      readonly k: 'mem';
      readonly size: number;
      readonly off: number;
      readonly ref: number;
      readonly var: Scalar;
      readonly rdonly?: boolean;
      readonly btf?: string;
      /** PTR_TO_MEM of a global function's argument (globalFunc.ts): not ring buffer memory, the log says `mem`. */
      readonly plain?: boolean;
      /** A dynptr's slice (dynptr_id): it dies with the dynptr (dynptr.ts). */
      readonly dynptr?: number;
      /** A skb or xdp dynptr's slice: it dies where packet pointers do (reg_is_dynptr_slice_pkt). */
      readonly pktSlice?: boolean;
      /** A pointer loaded from a kptr field (kptr.ts): PTR_UNTRUSTED or MEM_RCU rather than trusted. */
      readonly trust?: BtfTrust;
    }
  | {
      readonly k: 'mem_or_null';
      readonly size: number;
      readonly off: number;
      readonly ref: number;
      readonly id: number;
      readonly rdonly?: boolean;
      readonly btf?: string;
      readonly plain?: boolean;
      readonly dynptr?: number;
      readonly pktSlice?: boolean;
      readonly trust?: BtfTrust;
    }
  /**
   * Only in a stack slot (kfuncs.ts): an open-coded iterator (STACK_ITER; `ref` the reference
   * its constructor took), or one of a dynptr's two slots (STACK_DYNPTR; `first` the lower one).
   */
  | { readonly k: 'iter'; readonly type: IterType; readonly ref: number; readonly state: 'active' | 'drained'; readonly depth: number }
  | { readonly k: 'dynptr'; readonly type: DynptrType; readonly id: number; readonly ref: number; readonly first: boolean }
  /**
   * A socket (sockets.ts: PTR_TO_SOCKET, PTR_TO_SOCK_COMMON, PTR_TO_TCP_SOCK by `type`): never
   * offset (pointer arithmetic on one is refused); `ref` the reference a lookup took (0: none, as
   * for __sk_buff.sk), which casts (bpf_sk_fullsock, bpf_tcp_sock) pass on; `id` ties the copies
   * of one that may still be NULL.
   */
  | { readonly k: 'sock'; readonly type: SockType; readonly ref: number }
  | { readonly k: 'sock_or_null'; readonly type: SockType; readonly ref: number; readonly id: number }
  /** A function's first slot (lddw BPF_PSEUDO_FUNC), for callbacks. */
  | { readonly k: 'func'; readonly target: number; readonly off: number };

export type Kind = Reg['k'];

/** BtfTrust: the flags a PTR_TO_BTF_ID loaded from a kptr field carries (btf_ld_kptr_type): PTR_UNTRUSTED or MEM_RCU. */
export type BtfTrust = 'untrusted' | 'rcu';

/** DynptrType: enum bpf_dynptr_type's kinds bpfbox's verifier knows (dynptr_type_str's names). */
export type DynptrType = 'local' | 'ringbuf' | 'skb' | 'xdp';

/** SockType: the socket views the kernel's verifier tells apart (struct bpf_sock_common's fields, struct bpf_sock, struct bpf_tcp_sock). */
export type SockType = 'sock_common' | 'sock' | 'tcp_sock';

/** IterType: the open-coded iterators bpfbox knows (struct bpf_iter_num: 8 bytes, bpf_iter_bits: 16). */
export type IterType = 'num' | 'bits';

export const NONE: Reg = { k: 'none' };
export const scalar = (s: Scalar): Reg => ({ k: 'scalar', s });
export const unknownScalar: Reg = scalar(UNKNOWN);
export const constReg = (v: bigint): Reg => scalar(scalarConst(v));
export const ZERO = scalarConst(0n);

/** MAX_BPF_STACK: the 512 bytes below r10. */
export const STACK_SIZE = 512;

/**
 * StackSlot: what an 8-byte stack slot holds: nothing written yet; bytes (`misc`, with `zero`
 * the bytes known to be 0, bit b for the byte b above the slot's lowest address: the kernel's
 * STACK_ZERO); or a register spilled (`size` bytes from the slot's start: a pointer keeps its
 * kind when filled back, a scalar its bounds).
 */
export type StackSlot =
  | { readonly k: 'invalid' }
  /** `valid`: the bytes written (bit b as for `zero`; absent: all 8), the others print as `?` (STACK_INVALID). */
  | { readonly k: 'misc'; readonly zero: number; readonly valid?: number }
  /**
   * `above`: for a spill narrower than the slot, what the bytes above it hold (bits as for
   * `misc`: written, known zero), as save_register_state leaves them (for the log's `fp-24=0000` + value).
   */
  | { readonly k: 'spill'; readonly reg: Reg; readonly size: number; readonly above?: { readonly zero: number; readonly valid: number } };

/** FrameState: the registers and the stack of one function frame. */
export interface FrameState {
  readonly regs: Reg[];
  /** Slot i covers fp-8*(i+1) .. fp-8*i-1. */
  readonly stack: StackSlot[];
  /** First slot of the function this frame runs. */
  readonly fn: number;
  /** Where the caller goes on at return (-1 in the main frame). */
  readonly ret: number;
  /** A callback's frame: the range r0 must be in at its exit. */
  readonly callback?: readonly [number, number];
  /**
   * callback_depth: how many times this path has called the callback a helper call in this
   * frame gives (bpf_loop stops queueing calls at its count); 0 on the path that goes on.
   */
  callbackDepth?: number;
  /** A global function's frame: it returns a scalar, and its caller sees an unknown one (check_func_call). */
  readonly global?: boolean;
  /**
   * An async callback's frame (in_async_callback_fn: a bpf_timer callback): the first frame of a
   * path of its own (push_async_cb), its r0 checked at exit against [0, 0] (set_timer_callback_state).
   */
  readonly async?: boolean;
}

/** VState: the whole verifier state of a path: call frames (innermost last) and held references. */
export interface VState {
  readonly frames: FrameState[];
  /** Ring buffer reservations not yet submitted or discarded: reference id → slot of the reserve. */
  readonly refs: Map<number, number>;
  /** The bpf_spin_lock held (its map, offset in the value and the id of the value's lookup, 0 for global data), if any. */
  lock?: { readonly m: MapInfo; readonly off: number; readonly id: number };
  /** may_goto_depth: the may_goto fall-throughs this path took (each one a loop iteration the counter allows); undefined is 0. */
  mayGotoDepth?: number;
}

const freshStack = (): StackSlot[] => Array.from({ length: STACK_SIZE / 8 }, () => ({ k: 'invalid' }) as StackSlot);

/** frame: a function's frame with the given registers set, r10 its frame pointer. */
export function frame(fn: number, ret: number, depth: number, args: readonly Reg[] = [], callback?: readonly [number, number]): FrameState {
  const regs: Reg[] = Array.from({ length: 11 }, (_, r) => (r >= 1 && r <= 5 ? (args[r - 1] ?? NONE) : NONE));
  regs[10] = { k: 'stack', off: 0, frame: depth };
  return { regs, stack: freshStack(), fn, ret, callback };
}

/**
 * testMemoryEntry: the entry of the test program type the conformance suite runs under: r1
 * points at `size` bytes of memory (or is 0 without any), r2 holds the size.
 */
export function testMemoryEntry(size: number): VState {
  const r1: Reg = size > 0 ? { k: 'mem', size, off: 0, ref: 0, var: scalarConst(0n) } : scalar(scalarConst(0n));
  return { frames: [frame(0, -1, 0, [r1, scalar(scalarConst(BigInt(size)))])], refs: new Map() };
}

/** entryState: r1 the context, r10 the frame pointer, the rest not initialised. */
export function entryState(): VState {
  return { frames: [frame(0, -1, 0, [{ k: 'ctx', off: 0 }])], refs: new Map() };
}

export const cloneFrame = (f: FrameState): FrameState => ({ ...f, regs: [...f.regs], stack: [...f.stack] });
export const cloneState = (s: VState): VState => ({
  frames: s.frames.map(cloneFrame),
  refs: new Map(s.refs),
  lock: s.lock,
  ...(s.mayGotoDepth ? { mayGotoDepth: s.mayGotoDepth } : {}),
});

/** mapRegs applies `f` to every register and spilled register of every frame, in place. */
export function mapRegs(s: VState, f: (r: Reg) => Reg): void {
  for (const fr of s.frames) {
    fr.regs.forEach((r, i) => (fr.regs[i] = f(r)));
    fr.stack.forEach((slot, i) => {
      if (slot.k === 'spill') fr.stack[i] = { ...slot, reg: f(slot.reg) };
    });
  }
}

/** kindName: the kernel log's name of a register's kind (scalar, ctx, fp, map_value_or_null). */
export const kindName = (r: Reg): string =>
  r.k === 'sock'
    ? r.type
    : r.k === 'sock_or_null'
      ? `${r.type}_or_null`
      : (r.k === 'mem' || r.k === 'mem_or_null') && r.trust
        ? `${r.trust}_ptr_${r.k === 'mem_or_null' ? 'or_null_' : ''}`
        : r.k === 'mem_or_null' && r.btf
          ? 'ptr_or_null_'
          : r.k === 'mem' && r.btf
            ? r.ref
              ? 'ptr_'
              : 'trusted_ptr_'
            : (r.k === 'mem' || r.k === 'mem_or_null') && r.plain
              ? r.k
              : (KIND_NAMES[r.k] ?? r.k);
const KIND_NAMES: Partial<Record<Kind, string>> = {
  none: '?',
  stack: 'fp',
  mem: 'ringbuf_mem',
  mem_or_null: 'ringbuf_mem_or_null',
  map_ptr_or_null: 'map_value_or_null',
  func: 'func',
};

/** unreleased: the kernel's line naming the first reference still held (check_reference_leak). */
export function unreleased(vs: VState): string {
  const [id, at] = [...vs.refs][0];
  return `Unreleased reference id=${id} alloc_insn=${at}`;
}
