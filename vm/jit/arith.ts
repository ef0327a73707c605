import type { Instruction } from '../instruction.js';
import { AluOp, AtomicOp, Source } from '../opcodes.js';
import { Fn, REG, T1, T2, T32 } from './layout.js';
import { Atomic, type Code, I32, I64, Op } from './wasm.js';

/** Plain ALU operations: [64-bit opcode, 32-bit opcode]. */
const PLAIN: Readonly<Record<number, [number, number]>> = {
  [AluOp.BPF_ADD]: [Op.i64_add, Op.i32_add],
  [AluOp.BPF_SUB]: [Op.i64_sub, Op.i32_sub],
  [AluOp.BPF_MUL]: [Op.i64_mul, Op.i32_mul],
  [AluOp.BPF_OR]: [Op.i64_or, Op.i32_or],
  [AluOp.BPF_AND]: [Op.i64_and, Op.i32_and],
  [AluOp.BPF_XOR]: [Op.i64_xor, Op.i32_xor],
  [AluOp.BPF_LSH]: [Op.i64_shl, Op.i32_shl],
  [AluOp.BPF_RSH]: [Op.i64_shr_u, Op.i32_shr_u],
  [AluOp.BPF_ARSH]: [Op.i64_shr_s, Op.i32_shr_s],
};
/** alu: one ALU instruction with eBPF's defined results where Wasm would trap (division by zero, INT_MIN / -1). */
export function alu(c: Code, i: Instruction, w32: boolean): void {
  const op = i.opcode & 0xf0;
  const x = (i.opcode & Source.BPF_X) !== 0;
  const d = REG[i.dst];
  const k = w32 ? 1 : 0;
  const src = () => {
    if (x) {
      c.get(REG[i.src]);
      if (w32) c.op(Op.i32_wrap_i64);
    } else if (w32) c.i32(Number(BigInt.asIntN(32, i.imm)));
    else c.i64(BigInt.asIntN(32, i.imm));
  };
  const dst = () => {
    c.get(d);
    if (w32) c.op(Op.i32_wrap_i64);
  };
  const done = () => {
    if (w32) c.op(Op.i64_extend_i32_u);
    c.set(d);
  };
  const bt = w32 ? I32 : I64;
  const zero = () => (w32 ? c.i32(0) : c.i64(0n));
  const eqz = w32 ? Op.i32_eqz : Op.i64_eqz;
  const t = w32 ? T32 : T1;
  if (PLAIN[op]) {
    dst();
    src();
    c.op(PLAIN[op][k]);
    return done();
  }
  switch (op) {
    case AluOp.BPF_MOV: {
      src();
      if (i.offset && x)
        c.op(
          w32
            ? i.offset === 8
              ? Op.i32_extend8_s
              : Op.i32_extend16_s
            : i.offset === 8
              ? Op.i64_extend8_s
              : i.offset === 16
                ? Op.i64_extend16_s
                : Op.i64_extend32_s,
        );
      return done();
    }
    case AluOp.BPF_NEG:
      zero();
      dst();
      c.op(w32 ? Op.i32_sub : Op.i64_sub);
      return done();
    case AluOp.BPF_DIV:
    case AluOp.BPF_MOD: {
      const signed = i.offset === 1;
      const div = op === AluOp.BPF_DIV;
      src();
      c.tee(t).op(eqz, Op.if, bt);
      // by zero: division 0, modulo the dividend
      if (div) zero();
      else dst();
      c.op(Op.else);
      if (signed) {
        // by -1: negation (INT_MIN stays INT_MIN) or 0, where Wasm would trap
        c.get(t);
        if (w32) c.i32(-1);
        else c.i64(-1n);
        c.op(w32 ? Op.i32_eq : Op.i64_eq, Op.if, bt);
        if (div) {
          zero();
          dst();
          c.op(w32 ? Op.i32_sub : Op.i64_sub);
        } else zero();
        c.op(Op.else);
      }
      dst();
      c.get(t);
      c.op(
        div
          ? signed
            ? w32
              ? Op.i32_div_s
              : Op.i64_div_s
            : w32
              ? Op.i32_div_u
              : Op.i64_div_u
          : signed
            ? w32
              ? Op.i32_rem_s
              : Op.i64_rem_s
            : w32
              ? Op.i32_rem_u
              : Op.i64_rem_u,
      );
      if (signed) c.op(Op.end);
      c.op(Op.end);
      return done();
    }
    case AluOp.BPF_END: {
      const width = Number(i.imm);
      const swap = !w32 || x; // bswap (ALU64), or to big-endian (this machine is little-endian)
      c.get(d);
      if (!swap) {
        if (width < 64) c.i64(width === 16 ? 0xffffn : 0xffffffffn).op(Op.i64_and);
      } else if (width === 16) {
        c.set(T2)
          .get(T2)
          .i64(0xffn)
          .op(Op.i64_and)
          .i64(8n)
          .op(Op.i64_shl)
          .get(T2)
          .i64(8n)
          .op(Op.i64_shr_u)
          .i64(0xffn)
          .op(Op.i64_and, Op.i64_or);
      } else if (width === 32) c.op(Op.i32_wrap_i64, Op.call).u(Fn.bswap32).op(Op.i64_extend_i32_u);
      else c.op(Op.call).u(Fn.bswap64);
      c.set(d);
      return;
    }
  }
  throw new Error(`JIT: ALU opcode 0x${i.opcode.toString(16)}`);
}

/** atomic: BPF_ATOMIC as Wasm atomic read-modify-write on the shared memory. */
export function atomic(c: Code, i: Instruction, w32: boolean): void {
  // the address is on the stack already
  const imm = Number(i.imm);
  const k = w32 ? 0 : 1;
  const align = w32 ? 2 : 3;
  const value = (r: number) => {
    c.get(REG[r]);
    if (w32) c.op(Op.i32_wrap_i64);
  };
  const widen = () => {
    if (w32) c.op(Op.i64_extend_i32_u);
  };
  if (imm === AtomicOp.BPF_CMPXCHG) {
    value(0);
    value(i.src);
    c.atomic(Atomic.cmpxchg[k], align);
    widen();
    c.set(REG[0]);
    return;
  }
  value(i.src);
  if (imm === AtomicOp.BPF_XCHG) {
    c.atomic(Atomic.xchg[k], align);
    widen();
    c.set(REG[i.src]);
    return;
  }
  const base = imm & ~AtomicOp.BPF_FETCH;
  const rmw =
    base === AtomicOp.BPF_ADD ? Atomic.add : base === AtomicOp.BPF_OR ? Atomic.or : base === AtomicOp.BPF_AND ? Atomic.and : Atomic.xor;
  c.atomic(rmw[k], align);
  if (imm & AtomicOp.BPF_FETCH) {
    widen();
    c.set(REG[i.src]);
  } else c.op(Op.drop);
}
