/**
 * layout: the numbering the JIT's modules share: function indices (imports first), type
 * indices, globals, and where eBPF registers live among a function's locals.
 */

/**
 * Function index space: imports (helper, tail call, packet load, budget exhausted, access
 * check, frames too deep, 32-bit helper), then bswap32, bswap64, then one function per eBPF
 * function (the main one first), then run32.
 */
export const Fn = {
  helper: 0,
  tail: 1,
  ldabs: 2,
  exhausted: 3,
  check: 4,
  tooDeep: 5,
  helper32: 6,
  bswap32: 7,
  bswap64: 8,
  first: 9,
} as const;
/** Type indices. */
export const T = {
  helper: 0,
  tail: 1,
  ldabs: 2,
  i32i32: 3,
  i64i64: 4,
  ebpf: 5,
  run32: 6,
  slot: 7,
  check: 8,
  helper32: 9,
  repeat32: 10,
  chain: 11,
} as const;
/** Globals (exported): see compile.ts. */
export const G = { stop: 0, sp: 1, fuel: 2, depth: 3, done: 4, chain: 5, target: 6 } as const;
/** The `check` import's access kinds. */
export const Access = { READ: 0, WRITE: 1, ATOMIC: 2 } as const;

/** Locals: params r1-r5 (0-4), r10 (5); then r0 (6), r6-r9 (7-10), pc (11, i32), temps 12-13 (i64), 14-20 (i32). */
export const REG = [6, 0, 1, 2, 3, 4, 7, 8, 9, 10, 5];
export const PC = 11;
export const T1 = 12;
export const T2 = 13;
/** The first of seven i32 scratch locals (14-20). */
export const T32 = 14;
/** LOOPS: the function's may_goto counter (i32 local 21; the kernel keeps it in a hidden stack slot), BPF_MAX_LOOPS at entry. */
export const LOOPS = 21;

/** Stop: what a run left to its caller in the `stop` global (compile.ts explains the chain). */
export const Stop = { TAIL: 1, ABORT_ZERO: 2, TAIL_WASM: 3 } as const;
