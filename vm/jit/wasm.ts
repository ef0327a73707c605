/**
 * wasm: just enough of the WebAssembly binary format to write the JIT's modules: value types,
 * LEB128, a code buffer with the opcodes the JIT uses, and a module with type, import,
 * function, global, export and code sections (the binary format of the core spec, 1.0 plus
 * threads' shared memory and atomics, and sign extension).
 */

export const I32 = 0x7f;
export const I64 = 0x7e;
export type ValType = typeof I32 | typeof I64;

/** Op: the opcodes the JIT emits (single byte; atomics follow the 0xfe prefix). */
export const Op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  br_table: 0x0e,
  return: 0x0f,
  call: 0x10,
  call_indirect: 0x11,
  drop: 0x1a,
  select: 0x1b,
  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
  global_get: 0x23,
  global_set: 0x24,
  i32_load: 0x28,
  i64_load: 0x29,
  i32_load8_u: 0x2d,
  i64_load8_s: 0x30,
  i64_load8_u: 0x31,
  i64_load16_s: 0x32,
  i64_load16_u: 0x33,
  i64_load32_s: 0x34,
  i64_load32_u: 0x35,
  i32_store: 0x36,
  i64_store: 0x37,
  i64_store8: 0x3c,
  i64_store16: 0x3d,
  i64_store32: 0x3e,
  i32_const: 0x41,
  i64_const: 0x42,
  i32_eqz: 0x45,
  i32_eq: 0x46,
  i32_ne: 0x47,
  i32_lt_s: 0x48,
  i32_lt_u: 0x49,
  i32_gt_s: 0x4a,
  i32_gt_u: 0x4b,
  i32_le_s: 0x4c,
  i32_le_u: 0x4d,
  i32_ge_s: 0x4e,
  i32_ge_u: 0x4f,
  i64_eqz: 0x50,
  i64_eq: 0x51,
  i64_ne: 0x52,
  i64_lt_s: 0x53,
  i64_lt_u: 0x54,
  i64_gt_s: 0x55,
  i64_gt_u: 0x56,
  i64_le_s: 0x57,
  i64_le_u: 0x58,
  i64_ge_s: 0x59,
  i64_ge_u: 0x5a,
  i32_clz: 0x67,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_div_s: 0x6d,
  i32_div_u: 0x6e,
  i32_rem_s: 0x6f,
  i32_rem_u: 0x70,
  i32_and: 0x71,
  i32_or: 0x72,
  i32_xor: 0x73,
  i32_shl: 0x74,
  i32_shr_s: 0x75,
  i32_shr_u: 0x76,
  i32_rotl: 0x77,
  i32_rotr: 0x78,
  i64_add: 0x7c,
  i64_sub: 0x7d,
  i64_mul: 0x7e,
  i64_div_s: 0x7f,
  i64_div_u: 0x80,
  i64_rem_s: 0x81,
  i64_rem_u: 0x82,
  i64_and: 0x83,
  i64_or: 0x84,
  i64_xor: 0x85,
  i64_shl: 0x86,
  i64_shr_s: 0x87,
  i64_shr_u: 0x88,
  i32_wrap_i64: 0xa7,
  i64_extend_i32_s: 0xac,
  i64_extend_i32_u: 0xad,
  i32_extend8_s: 0xc0,
  i32_extend16_s: 0xc1,
  i64_extend8_s: 0xc2,
  i64_extend16_s: 0xc3,
  i64_extend32_s: 0xc4,
} as const;

/** memory.copy (bulk memory, 0xfc-prefixed), within the one memory. */
export const MEMORY_COPY = [0xfc, 0x0a, 0x00, 0x00] as const;

/** Atomic: 0xfe-prefixed read-modify-write opcodes, [32-bit, 64-bit]. */
export const Atomic = {
  add: [0x1e, 0x1f],
  sub: [0x25, 0x26],
  and: [0x2c, 0x2d],
  or: [0x33, 0x34],
  xor: [0x3a, 0x3b],
  xchg: [0x41, 0x42],
  cmpxchg: [0x48, 0x49],
} as const;

export function uleb(out: number[], v: number): void {
  let x = v >>> 0;
  do {
    const b = x & 0x7f;
    x >>>= 7;
    out.push(x ? b | 0x80 : b);
  } while (x);
}

export function sleb(out: number[], v: bigint): void {
  let x = v;
  for (;;) {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    if ((x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** Code: the body of one function, appended to instruction by instruction. */
export class Code {
  readonly bytes: number[] = [];
  op(...ops: number[]): this {
    this.bytes.push(...ops);
    return this;
  }
  u(v: number): this {
    uleb(this.bytes, v);
    return this;
  }
  i32(v: number): this {
    this.bytes.push(Op.i32_const);
    sleb(this.bytes, BigInt(v | 0));
    return this;
  }
  i64(v: bigint): this {
    this.bytes.push(Op.i64_const);
    sleb(this.bytes, BigInt.asIntN(64, v));
    return this;
  }
  get(l: number): this {
    return this.op(Op.local_get).u(l);
  }
  set(l: number): this {
    return this.op(Op.local_set).u(l);
  }
  tee(l: number): this {
    return this.op(Op.local_tee).u(l);
  }
  /** mem: a load or store opcode with its memarg (alignment as log2, offset). */
  mem(op: number, align: number, offset = 0): this {
    return this.op(op).u(align).u(offset);
  }
  atomic(op: number, align: number): this {
    return this.op(0xfe).u(op).u(align).u(0);
  }
}

/** FuncDef: a function of the module: its type index, extra locals, body. */
export interface FuncDef {
  readonly type: number;
  readonly locals: readonly ValType[];
  readonly code: Code;
}

const section = (out: number[], id: number, body: number[]) => {
  out.push(id);
  uleb(out, body.length);
  out.push(...body);
};
const name = (out: number[], s: string) => {
  const b = new TextEncoder().encode(s);
  uleb(out, b.length);
  out.push(...b);
};

/**
 * ModuleDef: the parts of a module. Imports come first in the function index space; the
 * memory is imported shared (with `maxPages` as its maximum) from `env.mem`.
 */
export interface ModuleDef {
  readonly types: readonly { params: readonly ValType[]; results: readonly ValType[] }[];
  readonly imports: readonly { name: string; type: number }[];
  /** An imported table of functions (`env.<name>`, table 0), for call_indirect. */
  readonly tableImport?: string;
  /** Imported mutable globals (`env.<name>`), first in the global index space. */
  readonly globalImports?: readonly { name: string; type: ValType }[];
  readonly maxPages: number;
  readonly globals: readonly ValType[];
  readonly funcs: readonly FuncDef[];
  /** Exports: functions, or (mutable) globals. */
  readonly exports: readonly ({ name: string; func: number } | { name: string; global: number })[];
}

/** encodeModule writes the binary module. */
export function encodeModule(m: ModuleDef): Uint8Array {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types: number[] = [];
  uleb(types, m.types.length);
  for (const t of m.types) {
    types.push(0x60);
    uleb(types, t.params.length);
    types.push(...t.params);
    uleb(types, t.results.length);
    types.push(...t.results);
  }
  section(out, 1, types);
  const imports: number[] = [];
  uleb(imports, m.imports.length + (m.globalImports?.length ?? 0) + (m.tableImport ? 1 : 0) + 1);
  name(imports, 'env');
  name(imports, 'mem');
  imports.push(0x02, 0x03); // memory, shared with a maximum
  uleb(imports, 1);
  uleb(imports, m.maxPages);
  for (const f of m.imports) {
    name(imports, 'env');
    name(imports, f.name);
    imports.push(0x00);
    uleb(imports, f.type);
  }
  if (m.tableImport) {
    name(imports, 'env');
    name(imports, m.tableImport);
    imports.push(0x01, 0x70, 0x00, 0x00); // a funcref table, at least 0 entries
  }
  for (const g of m.globalImports ?? []) {
    name(imports, 'env');
    name(imports, g.name);
    imports.push(0x03, g.type, 0x01);
  }
  section(out, 2, imports);
  const funcs: number[] = [];
  uleb(funcs, m.funcs.length);
  for (const f of m.funcs) uleb(funcs, f.type);
  section(out, 3, funcs);
  if (m.globals.length) {
    const g: number[] = [];
    uleb(g, m.globals.length);
    for (const t of m.globals) g.push(t, 0x01, t === I32 ? Op.i32_const : Op.i64_const, 0x00, Op.end);
    section(out, 6, g);
  }
  const exps: number[] = [];
  uleb(exps, m.exports.length);
  for (const e of m.exports) {
    name(exps, e.name);
    exps.push('func' in e ? 0x00 : 0x03);
    uleb(exps, 'func' in e ? e.func : e.global);
  }
  section(out, 7, exps);
  const code: number[] = [];
  uleb(code, m.funcs.length);
  for (const f of m.funcs) {
    const body: number[] = [];
    // locals in runs of one type
    const runs: [number, ValType][] = [];
    for (const t of f.locals) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    uleb(body, runs.length);
    for (const [n, t] of runs) {
      uleb(body, n);
      body.push(t);
    }
    body.push(...f.code.bytes, Op.end);
    uleb(code, body.length);
    code.push(...body);
  }
  section(out, 10, code);
  return Uint8Array.from(out);
}
