import type { HelperRegistry } from './helpers.js';
import type { AddressSpace, Region } from './memory.js';
import type { CheckedProgram } from './program.js';

/** EngineName names the execution engines (`--engine`). */
export type EngineName = 'interpreter' | 'jit';

/**
 * Machine is one emulated CPU's view of the kernel: the shared memory, its own stack
 * region, the helpers, and the hooks that reach outside the VM. A worker thread owns one.
 */
export interface Machine {
  readonly memory: AddressSpace;
  /** MAX_CALL_FRAMES * MAX_BPF_STACK bytes; r10 starts at its end. */
  readonly stack: Region;
  readonly helpers: HelperRegistry;
  /** bpf_tail_call: the program at `index` of the prog array at `mapAddr`, if any. */
  readonly tailCall?: (mapAddr: number, index: number) => Prepared | undefined;
  /**
   * LD_ABS/LD_IND: the big-endian value of `size` bytes at `offset` of the packet of the
   * context at `ctx`, or undefined when out of bounds (the program then exits with 0).
   */
  readonly packetLoad?: (ctx: number, offset: number, size: 1 | 2 | 4) => number | undefined;
  /** Resolves `lddw` pseudo sources (MAP_FD, MAP_VALUE, …) to addresses. */
  readonly resolveImm64?: (src: number, imm: bigint, slot: number) => bigint;
  /** The layout of the array map whose descriptor is at `desc`, for engines that inline its lookups. */
  readonly arrayLayout?: (desc: number) => ArrayLayout | undefined;
  /**
   * A word per program id (up to `limit`) at `base`: 1 + the program's index in the JIT's table
   * when it is compiled on this machine, else 0; a tail call to such a program needs no JavaScript.
   */
  readonly tailIndex?: { readonly base: number; readonly limit: number };
  /** The descriptor's layout, for lookups in maps known only at run time. */
  readonly descriptorLayout?: DescriptorLayout;
  /** LPM tries of at most 32-bit keys by descriptor: their lookups can be inlined. */
  readonly lpmLayout?: (desc: number) => LpmLayout | undefined;
  /** An object every Machine of one runtime (one CPU) shares, that engines key their per-CPU state by (the JIT's table of programs for tail calls). */
  readonly shared?: object;
}

/** ArrayLayout: value i of an array map (for this CPU) is at storage + i * stride + offset, for i < maxEntries. */
export interface ArrayLayout {
  readonly storage: number;
  readonly stride: number;
  readonly offset: number;
  readonly maxEntries: number;
}

/**
 * LpmLayout: an LPM trie whose keys hold at most 32 bits of data (maps/lpmTrie.ts), for a JIT
 * that walks it inline: the root word's address, the nodes (node n at nodes + (n - 1) *
 * nodeSize: children at 0 and 4, prefix length at 8, flags at 12, the data's first word
 * big-endian at 16), the value's offset in a node, the data bytes.
 */
export interface LpmLayout {
  readonly root: number;
  readonly nodes: number;
  readonly nodeSize: number;
  readonly valOff: number;
  readonly dataSize: number;
}

/**
 * DescriptorLayout: where a map descriptor (maps/descriptor.ts) keeps what a lookup needs, and
 * the type numbers of the maps whose lookups are plain arithmetic, for a JIT that looks up maps
 * it only knows at run time (a map of maps' inner map): an ARRAY's value i at storage + i *
 * stride; an ARRAY_OF_MAPS slot i at storage + i * (8 + round_up(value_size, 8)), present
 * when its first word is not 0, the inner map's descriptor in its third.
 */
export interface DescriptorLayout {
  readonly type: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly storage: number;
  readonly stride: number;
  readonly array: number;
  readonly arrayOfMaps: number;
}

/** PrepareOptions tune a prepared program. */
export interface PrepareOptions {
  /** Stop after this many instructions (for programs the verifier has not bounded). */
  readonly budget?: number;
  /**
   * The program did not pass the verifier (a test, a conformance vector): check every memory
   * access against the mapped regions, the call depth and an instruction budget. The
   * interpreter always does; the JIT does only when asked (or given a budget).
   */
  readonly checked?: boolean;
  /** Receive one line per executed instruction with the registers it changed. */
  readonly trace?: (line: string) => void;
  /**
   * Called before each instruction with its slot and the registers' values (checks that watch
   * a run, as the verifier's soundness test does). The interpreter honours it; slow path.
   */
  readonly observe?: (slot: number, reg: (r: number) => bigint) => void;
}

/** RunArgs are the initial argument registers; r1 is the context pointer. */
export interface RunArgs {
  readonly r1?: bigint | number;
  readonly r2?: bigint | number;
  readonly r3?: bigint | number;
  readonly r4?: bigint | number;
  readonly r5?: bigint | number;
}

/** Prepared is a program ready to run on one Machine. */
export interface Prepared {
  /** run executes from the first instruction and returns r0 as an unsigned 64-bit value. */
  run(args?: RunArgs): bigint;
  /**
   * run32 is the per-packet path: r1 = `ctx`, every other register 0, and r0's low 32 bits
   * back as an unsigned number (a verdict or a length). It allocates nothing.
   */
  run32(ctx: number): number;
  /** Instructions executed by the last run (tail-called programs included). */
  readonly executed: number;
  /** Internal: continue a tail call into this program (count = calls so far). */
  runTail(ctx: bigint, count: number): bigint;
  /** Frees what the engine keeps for the program beyond the object itself (the JIT's table entry); it runs no more after. */
  dispose?(): void;
  /** run32 `n` times on the same context, r0 of the last run back (a test run's repeat); engines that can loop without returning to JavaScript offer it. */
  repeat32?(ctx: number, n: number): number;
  /** A JIT-compiled program's Wasm entry, for callers that run it from WebAssembly (batches). */
  readonly wasm?: WasmEntry;
}

/** WasmGlobal: a WebAssembly.Global (Node's type library does not declare one). */
export interface WasmGlobal {
  value: number;
}

/**
 * WasmEntry: what calling a compiled program from another Wasm module takes: `run32` (its
 * per-packet export, ctx in and r0's low 32 bits out), the `sp` global to set to `top`
 * before each call, and `stop`, non-zero when a run left work to JavaScript (a tail call).
 */
export interface WasmEntry {
  readonly run32: (ctx: number) => number;
  readonly sp: WasmGlobal;
  readonly stop: WasmGlobal;
  readonly top: number;
  /** Where the program is in its machine's table of compiled programs (tail calls index it). */
  readonly index?: number;
}

/**
 * Engine turns a CheckedProgram into something that runs. The interpreter and the JIT
 * implement it and pass one conformance suite.
 */
export interface Engine {
  readonly name: EngineName;
  prepare(program: CheckedProgram, machine: Machine, options?: PrepareOptions): Prepared;
}
