import type { AddressSpace } from './memory.js';

/** HelperEnv is what a helper sees besides its arguments: the memory and the calling insn. */
export interface HelperEnv {
  readonly memory: AddressSpace;
  /** Slot index of the call instruction. */
  readonly pc: number;
  /**
   * callback runs a bpf-to-bpf function of the calling program, given the value its
   * `lddw BPF_PSEUDO_FUNC` loaded, with r1-r5 set, and returns its r0 (bpf_loop and friends).
   */
  readonly callback?: (fn: bigint, ...args: bigint[]) => bigint;
}

/** CALLBACK_TAG marks the value `lddw BPF_PSEUDO_FUNC` loads: the tag plus the function's slot. */
/** negErrno is a helper's error return: -errno as the u64 r0 holds it. */
export const negErrno = (errno: number): bigint => BigInt.asUintN(64, BigInt(-errno));
/** argU32 / argS32 read a helper argument's low 32 bits, unsigned or signed. */
export const argU32 = (r: bigint): number => Number(BigInt.asUintN(32, r));
export const argS32 = (r: bigint): number => Number(BigInt.asIntN(32, r));

export const CALLBACK_TAG = 0xcb00_0000;

/**
 * HelperFn implements one helper: r1-r5 in, r0 out. Arguments arrive as unsigned 64-bit
 * values; pointers are 32-bit addresses in the shared memory.
 */
export type HelperFn = (r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint, env: HelperEnv) => bigint;

/** Helper is a helper function with its kernel UAPI id (`BPF_FUNC_*`) and name. */
export interface Helper {
  readonly id: number;
  readonly name: string;
  readonly fn: HelperFn;
  /**
   * The same on 32-bit numbers, for helpers whose arguments all fit (pointers, ids, flags) and
   * whose result does: the JIT calls it with no BigInt. `ret` says how r0 extends the result.
   */
  readonly fn32?: (r1: number, r2: number, r3: number, r4: number, r5: number) => number;
  readonly ret?: 'u32' | 's32';
  /**
   * The result is the same on every call on this machine and the helper does nothing else
   * (bpf_get_smp_processor_id: a runtime is one CPU): the JIT puts fn32's value in r0 instead of
   * a call, as the kernel's JITs inline it.
   */
  readonly constant?: boolean;
}

/** HelperRegistry maps helper ids to implementations. */
export class HelperRegistry {
  readonly #byId = new Map<number, Helper>();

  constructor(helpers: Iterable<Helper> = []) {
    for (const h of helpers) this.register(h);
  }

  /** register adds or replaces a helper. */
  register(helper: Helper): this {
    this.#byId.set(helper.id, helper);
    return this;
  }

  /** get returns the helper with `id`, if registered. */
  get(id: number): Helper | undefined {
    return this.#byId.get(id);
  }
}
