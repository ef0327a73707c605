import type { Instruction } from '../instruction.js';
import { AluOp, Class, LDDW, Mode, Pseudo, Size, Source, opClass } from '../opcodes.js';
import { type Env, load, mapValueWrite, saveAuxPtrType, store } from './memory.js';
import { kptrAtomic } from './kptr.js';
import { EBADF, EINVAL, ENOTSUPP, MAX_VAR_OFF, Refused, refuse, unsupported } from './refuse.js';
import { type AluOpName, type Scalar, UNKNOWN, alu, isConstScalar, scalarConst, sync } from './scalar.js';
import * as T from './tnum.js';
import { NONE, type Reg, type VState, constReg, kindName, scalar, unknownScalar, unreleased } from './state.js';

export const SIZES: Readonly<Record<number, number>> = { [Size.BPF_W]: 4, [Size.BPF_H]: 2, [Size.BPF_B]: 1, [Size.BPF_DW]: 8 };
const OPS: Readonly<Record<number, AluOpName>> = {
  [AluOp.BPF_ADD]: 'add',
  [AluOp.BPF_SUB]: 'sub',
  [AluOp.BPF_MUL]: 'mul',
  [AluOp.BPF_DIV]: 'div',
  [AluOp.BPF_OR]: 'or',
  [AluOp.BPF_AND]: 'and',
  [AluOp.BPF_LSH]: 'lsh',
  [AluOp.BPF_RSH]: 'rsh',
  [AluOp.BPF_NEG]: 'neg',
  [AluOp.BPF_MOD]: 'mod',
  [AluOp.BPF_XOR]: 'xor',
  [AluOp.BPF_MOV]: 'mov',
  [AluOp.BPF_ARSH]: 'arsh',
};
/** The operator the kernel names in "pointer arithmetic with %s operator prohibited". */
const OPERATOR: Readonly<Record<number, string>> = {
  [AluOp.BPF_ADD]: '+=',
  [AluOp.BPF_MUL]: '*=',
  [AluOp.BPF_DIV]: '/=',
  [AluOp.BPF_OR]: '|=',
  [AluOp.BPF_AND]: '&=',
  [AluOp.BPF_LSH]: '<<=',
  [AluOp.BPF_RSH]: '>>=',
  [AluOp.BPF_MOD]: '%=',
  [AluOp.BPF_XOR]: '^=',
  [AluOp.BPF_ARSH]: 's>>=',
};

export function read(vs: VState, r: number): Reg {
  const v = cur(vs).regs[r];
  if (v.k === 'none') refuse(`R${r} !read_ok`);
  return v;
}
export const cur = (vs: VState) => vs.frames[vs.frames.length - 1];

/** fpWrite: r10 is never a destination (check_reg_arg, DST_OP). */
function fpWrite(r: number): void {
  if (r === 10) refuse('frame pointer is read only');
}

/** signExtended: a scalar of `bits` bits sign-extended to 64 (movsx, ldsx). */
function signExtended(s: Scalar, bits: number): Scalar {
  if (isConstScalar(s)) return scalarConst(BigInt.asUintN(64, BigInt.asIntN(bits, s.var.value)));
  const lo = -(1n << BigInt(bits - 1));
  return sync({ ...UNKNOWN, smin: lo, smax: -lo - 1n });
}

/** step applies one instruction other than a jump, call or exit to the innermost frame. */
export function step(vs: VState, i: Instruction, env: Env, slot: number): void {
  const cls = opClass(i.opcode);
  const regs = cur(vs).regs;
  const mode = i.opcode & 0xe0;
  switch (cls) {
    case Class.BPF_ALU:
    case Class.BPF_ALU64:
      return aluStep(vs, i, cls === Class.BPF_ALU64 ? 64 : 32, env);
    case Class.BPF_LD:
      if (i.opcode === LDDW) return (fpWrite(i.dst), void (regs[i.dst] = lddw(i, env, slot)));
      if (mode === Mode.BPF_ABS || mode === Mode.BPF_IND) return packetLoad(vs, i, env);
      return unsupported(`opcode ${i.opcode.toString(16)}`);
    case Class.BPF_LDX: {
      const size = SIZES[i.opcode & 0x18];
      const base = read(vs, i.src);
      fpWrite(i.dst);
      const v = load(vs, base, i.src, i.offset, size, env);
      saveAuxPtrType(env, slot, base.k);
      // a constant (bpf_map_direct_read of `.rodata`) stays one, sign-extended for BPF_MEMSX
      const known = v.k === 'scalar' && isConstScalar(v.s) ? v.s.umin : undefined;
      if (mode === Mode.BPF_MEMSX)
        regs[i.dst] =
          v.k !== 'scalar'
            ? refuse(`R${i.src} invalid sign-extending load`)
            : known !== undefined
              ? constReg(BigInt.asUintN(64, BigInt.asIntN(size * 8, known)))
              : scalar(signExtended(UNKNOWN, size * 8));
      // a narrow fill of a narrow spill gives the spilled scalar back (stackRead sizes what it returns)
      else if (base.k === 'stack') regs[i.dst] = v;
      else
        regs[i.dst] =
          size < 8 && v.k === 'scalar' && known === undefined ? scalar(sync({ ...UNKNOWN, umax: (1n << BigInt(size * 8)) - 1n })) : v;
      return;
    }
    case Class.BPF_ST:
    case Class.BPF_STX: {
      if (mode === Mode.BPF_ATOMIC && cls === Class.BPF_STX) return atomic(vs, i, env);
      const base = read(vs, i.dst);
      let value = cls === Class.BPF_STX ? read(vs, i.src) : constReg(BigInt.asUintN(64, BigInt(Number(i.imm))));
      const size = SIZES[i.opcode & 0x18];
      // a scalar spilled (at a slot's start) keeps an id with its register when it fits, else none
      if (cls === Class.BPF_STX && value.k === 'scalar' && base.k === 'stack' && !base.var && (base.off + i.offset) % 8 === 0) {
        const fits = size === 8 || value.s.umax < 1n << BigInt(8 * size);
        if (fits) {
          const id = idBeforeMov(vs, i.src, env);
          value = read(vs, i.src);
          if (id && value.k === 'scalar') value = { ...value, id };
        } else if (value.id) value = { ...value, id: undefined, delta: undefined };
      }
      store(vs, base, i.dst, i.offset, size, value, env, cls === Class.BPF_STX ? i.src : undefined);
      return saveAuxPtrType(env, slot, base.k);
    }
  }
  unsupported(`class ${cls}`);
}

/**
 * idBeforeMov: assign_scalar_id_before_mov: a scalar about to be copied (moved or spilled) gets a
 * fresh id unless it has one or is a constant (an id with a constant added is replaced); the id.
 */
function idBeforeMov(vs: VState, r: number, env: Env): number | undefined {
  const regs = cur(vs).regs;
  const v = regs[r];
  if (v.k !== 'scalar') return undefined;
  if (v.id && v.delta === undefined) return v.id;
  if (isConstScalar(v.s)) {
    if (v.id) regs[r] = { k: 'scalar', s: v.s, ...(v.precise ? { precise: true } : {}) };
    return undefined;
  }
  const id = env.nextId();
  regs[r] = { ...v, id, delta: undefined };
  return id;
}

/** aluReserved: the fields each ALU instruction must leave zero or set to what it allows (check_alu_op). */
function aluReserved(i: Instruction, bits: 32 | 64): void {
  const op = i.opcode & 0xf0;
  const x = (i.opcode & Source.BPF_X) !== 0;
  const imm = Number(i.imm);
  const bad = (what: string) => refuse(`${what} uses reserved fields`, EINVAL);
  if (op === AluOp.BPF_NEG) {
    if (x || i.src !== 0 || i.offset !== 0 || imm !== 0) bad('BPF_NEG');
  } else if (op === AluOp.BPF_END) {
    if (i.src !== 0 || i.offset !== 0 || ![16, 32, 64].includes(imm) || (bits === 64 && x)) bad('BPF_END');
  } else if (op === AluOp.BPF_MOV) {
    if (x ? imm !== 0 || ![0, 8, 16, ...(bits === 64 ? [32] : [])].includes(i.offset) : i.src !== 0 || i.offset !== 0) bad('BPF_MOV');
  } else if (op > AluOp.BPF_END) {
    refuse(`invalid BPF_ALU opcode ${op.toString(16)}`, EINVAL);
  } else if (
    (x ? imm !== 0 : i.src !== 0) ||
    (i.offset !== 0 && i.offset !== 1) ||
    (i.offset === 1 && op !== AluOp.BPF_DIV && op !== AluOp.BPF_MOD)
  ) {
    bad('BPF_ALU');
  }
}

function aluStep(vs: VState, i: Instruction, bits: 32 | 64, env: Env): void {
  const regs = cur(vs).regs;
  const op = i.opcode & 0xf0;
  aluReserved(i, bits);
  if (op === AluOp.BPF_END) {
    // byte order: a known value is swapped exactly; otherwise an unknown of the width
    const r = read(vs, i.dst);
    fpWrite(i.dst);
    const width = Number(i.imm);
    if (r.k !== 'scalar') return void (regs[i.dst] = unknownScalar);
    const swap = bits === 64 || (i.opcode & Source.BPF_X) !== 0; // bswap, or to big-endian on this little-endian machine
    const mask = (1n << BigInt(width)) - 1n;
    if (isConstScalar(r.s)) {
      let v = r.s.var.value & mask;
      if (swap)
        v = BigInt(
          `0x${(
            v
              .toString(16)
              .padStart(width / 4, '0')
              .match(/../g) ?? []
          )
            .reverse()
            .join('')}`,
        );
      regs[i.dst] = constReg(v);
    } else regs[i.dst] = scalar(alu('and', swap ? UNKNOWN : r.s, scalarConst(mask), 64));
    return;
  }
  const x = (i.opcode & Source.BPF_X) !== 0;
  const src = op === AluOp.BPF_NEG ? constReg(0n) : x ? read(vs, i.src) : constReg(BigInt.asUintN(64, BigInt(Number(i.imm))));
  fpWrite(i.dst);
  if (op === AluOp.BPF_MOV) {
    if (i.offset !== 0) {
      // movsx: sign-extend the low 8, 16 or 32 bits (of a pointer: an unknown scalar)
      const ext =
        src.k === 'scalar' && isConstScalar(src.s)
          ? signExtended(src.s, i.offset)
          : src.k === 'scalar'
            ? signExtended(UNKNOWN, i.offset)
            : UNKNOWN;
      regs[i.dst] = scalar(bits === 32 ? alu('mov', ext, ext, 32) : ext);
      return;
    }
    // a copy of a scalar shares its id (of a 32-bit move: when the value fits in 32 bits)
    const id = x && src.k === 'scalar' && (bits === 64 || src.s.umax <= 0xffffffffn) ? idBeforeMov(vs, i.src, env) : undefined;
    // a 32-bit move keeps the low half (zero-extended); of a pointer, an unknown scalar
    if (bits === 64) regs[i.dst] = x ? regs[i.src] : src;
    else regs[i.dst] = src.k === 'scalar' ? { ...scalar(alu('mov', src.s, src.s, 32)), ...(id ? { id } : {}) } : unknownScalar;
    return;
  }
  const dst = read(vs, i.dst);
  // check_alu_op: a constant divisor of zero, a constant shift past the width (reached code only)
  if (!x && (op === AluOp.BPF_DIV || op === AluOp.BPF_MOD) && Number(i.imm) === 0) refuse('div by zero', EINVAL);
  if (!x && (op === AluOp.BPF_LSH || op === AluOp.BPF_RSH || op === AluOp.BPF_ARSH) && (Number(i.imm) < 0 || Number(i.imm) >= bits))
    refuse(`invalid shift ${Number(i.imm)}`, EINVAL);
  if (dst.k === 'scalar' && src.k === 'scalar') {
    const signed = (op === AluOp.BPF_DIV || op === AluOp.BPF_MOD) && i.offset === 1;
    regs[i.dst] = scalar(alu(signed ? (op === AluOp.BPF_DIV ? 'sdiv' : 'smod') : OPS[op], dst.s, src.s, bits));
    // rX += const (or -=) keeps rX's id with the constant (BPF_ADD_CONST), once and within s32; anything else drops it
    if ((op === AluOp.BPF_ADD || op === AluOp.BPF_SUB) && bits === 64 && dst.id && isConstScalar(src.s) && !(x && i.src === i.dst)) {
      const val = BigInt.asIntN(64, src.s.var.value);
      const fits = val >= -0x80000000n && val <= 0x7fffffffn && !(op === AluOp.BPF_SUB && val === -0x80000000n);
      const delta = Number(op === AluOp.BPF_SUB ? -val : val);
      if (dst.delta === undefined && fits) regs[i.dst] = { ...regs[i.dst], id: dst.id, delta } as Reg;
    }
    return;
  }
  regs[i.dst] = pointerArith(op, i.dst, dst, src, bits, env);
  // the scalar's value decided the pointer's bounds
  if (src.k === 'scalar' && x) env.demand(1 << i.src);
  else if (dst.k === 'scalar') env.demand(1 << i.dst);
}

/** The kernel's name of a pointer kind in pointer-math messages. */
const mathName = (r: Reg) => (r.k === 'stack' ? 'fp' : r.k === 'mem' ? 'ringbuf_mem' : r.k);

function saneOffset(s: Scalar, off: number, type: string, isPtr: boolean): void {
  const known = isConstScalar(s);
  const val = BigInt.asIntN(64, s.var.value);
  // check_reg_sane_offset: adjust_ptr_min_max_vals answers EINVAL
  if (!isPtr && known && (val >= MAX_VAR_OFF || val <= -MAX_VAR_OFF))
    refuse(`math between ${type} pointer and ${val} is not allowed`, EINVAL);
  if (isPtr && (off >= Number(MAX_VAR_OFF) || off <= -Number(MAX_VAR_OFF))) refuse(`${type} pointer offset ${off} is not allowed`, EINVAL);
  if (s.smin === -(1n << 63n)) refuse(`math between ${type} pointer and register with unbounded min value is not allowed`, EINVAL);
  if (s.smin >= MAX_VAR_OFF || s.smin <= -MAX_VAR_OFF) refuse(`value ${s.smin} makes ${type} pointer be out of bounds`, EINVAL);
}

/**
 * pointerArith: adjust_ptr_min_max_vals, privileged: a negated pointer and a 32-bit
 * subtraction are unknown scalars; + and - keep the pointer, a constant in `off`, anything
 * else in the variable part (packet pointers then get a new id and no proven range).
 */
function pointerArith(op: number, d: number, dst: Reg, src: Reg, bits: 32 | 64, env: Env): Reg {
  const ptr = dst.k !== 'scalar' ? dst : src;
  if (dst.k !== 'scalar' && src.k !== 'scalar') {
    // two pointers: a difference is an unknown scalar (privileged), anything else is refused
    if (op === AluOp.BPF_SUB) return unknownScalar;
    refuse(`R${d} pointer ${OPERATOR[op] ?? '+='} pointer prohibited`);
  }
  if (op === AluOp.BPF_NEG) return unknownScalar;
  if (bits === 32) {
    if (op === AluOp.BPF_SUB) return unknownScalar;
    refuse(`R${d} 32-bit pointer arithmetic prohibited`);
  }
  if (op === AluOp.BPF_AND || op === AluOp.BPF_OR || op === AluOp.BPF_XOR)
    refuse(`R${d} bitwise operator ${OPERATOR[op]} on pointer prohibited`);
  if (op !== AluOp.BPF_ADD && op !== AluOp.BPF_SUB) refuse(`R${d} pointer arithmetic with ${OPERATOR[op]} operator prohibited`);
  if (op === AluOp.BPF_SUB && dst.k === 'scalar') refuse(`R${d} tried to subtract pointer from scalar`);
  if (op === AluOp.BPF_SUB && ptr.k === 'stack') refuse(`R${d} subtraction from stack pointer prohibited`);
  if (ptr.k === 'pkt_end') refuse(`R${d} pointer arithmetic on pkt_end prohibited`);
  if (ptr.k === 'map_value_or_null' || ptr.k === 'map_ptr_or_null' || ptr.k === 'mem_or_null' || ptr.k === 'sock_or_null')
    refuse(`R${d} pointer arithmetic on ${kindName(ptr)} prohibited, null-check it first`);
  // CONST_PTR_TO_MAP: adding a known 0 is the one arithmetic allowed (it leaves the map pointer)
  const offReg = src.k === 'scalar' ? src : dst;
  const plusZero = op === AluOp.BPF_ADD && offReg.k === 'scalar' && isConstScalar(offReg.s) && offReg.s.var.value === 0n;
  if (ptr.k === 'map_ptr' && !plusZero) refuse(`R${d} pointer arithmetic on map_ptr prohibited`);
  if (ptr.k === 'sock') refuse(`R${d} pointer arithmetic on ${ptr.type} prohibited`);
  if (ptr.k === 'func') refuse(`R${d} pointer arithmetic on func prohibited`);
  const k = src.k === 'scalar' ? src.s : (dst as { s: Scalar }).s;
  const p = ptr as Reg & { off: number };
  saneOffset(k, 0, mathName(ptr), false);
  if (isConstScalar(k)) {
    const delta = Number(BigInt.asIntN(64, k.var.value)) * (op === AluOp.BPF_SUB ? -1 : 1);
    const off = p.off + delta;
    if (off >= Number(MAX_VAR_OFF) || off <= -Number(MAX_VAR_OFF)) refuse(`${mathName(ptr)} pointer offset ${off} is not allowed`, EINVAL);
    return { ...p, off } as Reg;
  }
  if (p.k !== 'pkt' && p.k !== 'pkt_meta' && p.k !== 'map_value' && p.k !== 'mem' && p.k !== 'ctx' && p.k !== 'stack')
    return unsupported(`variable offsets on ${mathName(ptr)} pointers`);
  const v = alu(op === AluOp.BPF_SUB ? 'sub' : 'add', p.var ?? scalarConst(0n), k, 64);
  saneOffset(v, p.off, mathName(ptr), true);
  if (p.k === 'pkt' || p.k === 'pkt_meta') return { ...p, var: v, range: 0, id: env.nextId() };
  return { ...p, var: v } as Reg;
}

/** lddw: a 64-bit constant, or what a pseudo source names (a map, a value in one, a function). */
function lddw(i: Instruction, env: Env, slot: number): Reg {
  const n = Number(BigInt.asUintN(32, i.imm));
  switch (i.src) {
    case 0:
      return constReg(BigInt.asUintN(64, i.imm));
    case Pseudo.BPF_PSEUDO_MAP_FD: {
      const m = env.maps[n];
      if (!m) refuse(`fd ${n} is not pointing to valid bpf_map`, EBADF);
      return { k: 'map_ptr', m, off: 0 };
    }
    case Pseudo.BPF_PSEUDO_MAP_VALUE: {
      // the address of a value inside an array map (global data)
      const off = Number(BigInt.asUintN(32, i.imm >> 32n));
      const m = env.maps[n];
      if (!m) refuse(`fd ${n} is not pointing to valid bpf_map`, EBADF);
      if (!m.array) return unsupported('direct value access to this map type');
      // array_map_direct_value_addr: one entry only (ENOTSUPP), the offset inside the value (EINVAL)
      if (m.maxEntries !== 1) refuse(`invalid access to map value pointer, value_size=${m.valueSize} off=${off}`, ENOTSUPP);
      if (off >= m.valueSize) refuse(`invalid access to map value pointer, value_size=${m.valueSize} off=${off}`, EINVAL);
      return { k: 'map_value', m, off, var: scalarConst(0n) };
    }
    case Pseudo.BPF_PSEUDO_FUNC:
      return { k: 'func', target: slot + 1 + Number(BigInt.asIntN(32, i.imm)), off: 0 };
  }
  return unsupported(`lddw with src_reg ${i.src}`);
}

/**
 * atomic: BPF_ATOMIC on the stack or a map value (the context and packets refuse it): 4 or 8
 * bytes, read and written; a fetch puts the old value, unknown, in src (cmpxchg: in r0).
 */
function atomic(vs: VState, i: Instruction, env: Env): void {
  const size = SIZES[i.opcode & 0x18];
  if (size !== 4 && size !== 8) refuse('invalid atomic operand size', EINVAL);
  // check_reg_arg: the source, then the destination, must be registers (r0-r10)
  for (const r of [i.src, i.dst]) if (r > 10) refuse(`R${r} is invalid`, EINVAL);
  const base = read(vs, i.dst);
  read(vs, i.src);
  const imm = Number(i.imm);
  if (imm === 0xf1) read(vs, 0);
  if (base.k === 'ctx' || base.k === 'pkt' || base.k === 'pkt_meta') refuse(`BPF_ATOMIC stores into R${i.dst} ${base.k} is not allowed`);
  if (base.k !== 'stack' && base.k !== 'map_value' && base.k !== 'mem')
    return void refuse(`R${i.dst} invalid mem access '${kindName(base)}'`);
  if (base.k === 'stack' && base.var) return unsupported('atomics through fp pointers with a variable offset');
  // atomics are always strictly aligned (check_generic_ptr_alignment; the stack is checked in load)
  if (base.k !== 'stack') {
    const v = base.var;
    const at = BigInt(base.off + i.offset);
    if (((v.var.value + at) | v.var.mask) & BigInt(size - 1)) {
      const t = v.var.mask === 0n ? `${v.var.value}` : T.show(v.var);
      refuse(`misaligned ${base.k === 'map_value' ? 'value ' : ''}access off ${t}+${base.off}+${i.offset} size ${size}`);
    }
  }
  if (base.k === 'map_value') kptrAtomic(base, i.dst, i.offset, size);
  load(vs, base, i.dst, i.offset, size, env);
  if (base.k === 'map_value') mapValueWrite(base, i.dst, i.offset, size);
  else store(vs, base, i.dst, i.offset, size, unknownScalar, env);
  const regs = cur(vs).regs;
  if (imm === 0xf1) regs[0] = unknownScalar;
  else if (imm & 1) regs[i.src] = unknownScalar;
}

/**
 * packetLoad: LD_ABS / LD_IND (check_ld_abs): only types that may read the skb this way (the ops' may_access_skb), with
 * the skb in r6, no reference or spin lock held (the load may end the program); r0 gets the bytes (unknown), r1-r5 are clobbered.
 */
function packetLoad(vs: VState, i: Instruction, env: Env): void {
  if (!env.ops.mayAccessSkb) {
    refuse('BPF_LD_[ABS|IND] instructions not allowed for this program type', EINVAL);
  }
  const r6 = read(vs, 6);
  // gen_ld_abs may end the program at run time: no reference may be held, no lock
  // check_resource_leak (6.18): the reference named, then the instruction's own line
  if (vs.refs.size) throw new Refused(EINVAL, 'BPF_LD_[ABS|IND] would lead to reference leak', [], [unreleased(vs)]);
  if (vs.lock) refuse('BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region', EINVAL);
  if (r6.k !== 'ctx') refuse('at the time of BPF_LD_ABS|IND R6 != pointer to skb', EINVAL);
  if ((i.opcode & 0xe0) === Mode.BPF_IND && read(vs, i.src).k !== 'scalar')
    refuse(`R${i.src} type=${kindName(read(vs, i.src))} expected=scalar`);
  if ((r6 as { off: number }).off !== 0) refuse(`dereference of modified ctx ptr R6 off=${(r6 as { off: number }).off} disallowed`);
  const regs = cur(vs).regs;
  for (let r = 1; r <= 5; r++) regs[r] = NONE;
  // mark_reg_unknown: the kernel does not bound r0 by the load's size (the log shows `R0=scalar()`)
  regs[0] = unknownScalar;
}
