import { destroyDynptrSlot, isDynptrSlot } from './dynptr.js';
import type { LinkedRegs } from './linked.js';
import { EACCES, EINVAL, MAX_VAR_OFF, Refused, refuse, unsupported } from './refuse.js';
import { btfStructRead, kernStructSize } from './btfStruct.js';
import { kptrAccess, kptrLoad, kptrStore } from './kptr.js';
import { mapPtrAccess } from './mapPtrAccess.js';
import { type Scalar, UNKNOWN, isConstScalar, scalarConst, sync } from './scalar.js';
import * as T from './tnum.js';
import {
  type Kind,
  type MapInfo,
  type Reg,
  STACK_SIZE,
  type StackSlot,
  type VState,
  ZERO,
  constReg,
  kindName,
  scalar,
  unknownScalar,
} from './state.js';
import { ctxSocket, sockAccess } from './sockets.js';
import type { VerifierOps } from './verifierOps.js';

/** Env: what every check needs besides the state: the program type and its ops, its maps, and what the walk records. */
export interface Env {
  readonly progType: number;
  readonly ops: VerifierOps;
  readonly maps: readonly MapInfo[];
  /** Deepest stack byte each function touches (by its first slot), for check_max_stack_depth. */
  readonly stackDepth: Map<number, number>;
  /** is_async_cb: the functions given to bpf_timer_set_callback (check_max_stack_depth takes them as roots of their own). */
  readonly asyncCallbacks?: Set<number>;
  /** A fresh id for lookup results, packet pointers with a variable part and references. */
  nextId(): number;
  /**
   * Stack liveness (the kernel's REG_LIVE_READ / _WRITTEN for slots): a read of slot `spi` of
   * frame `frame`, and a write that replaced all 8 bytes of one. The walk keeps them per path.
   */
  readonly slots: { read(frame: number, spi: number): void; write(frame: number, spi: number): void };
  /** Safety depended on these registers (bit n = rN) and stack slots of the innermost frame: they become precise (precision.ts). */
  demand(regs: number, spis?: readonly number[]): void;
  /**
   * ptrKinds: the kind of pointer each load/store instruction (by slot) first accessed memory
   * through, on any path (the kernel's insn_aux_data[].ptr_type, kept across paths).
   */
  readonly ptrKinds: Map<number, Kind>;
  /** What the program does that its runner may want to know (engines can skip copying a packet nothing writes). */
  readonly effects: { writesPacket: boolean };
  /** The scalars a conditional jump linked (collect_linked_regs), for the jump's history entry (precision.ts). */
  linked?(links: LinkedRegs): void;
  /** The log: a stack slot of frame `frame` an instruction wrote some bytes of (mark_stack_slot_scratched). */
  scratchSlot?(frame: number, spi: number): void;
}

/** ctxPointerOk: the context pointer as it came (check_ptr_off_reg): no fixed offset, no variable part. */
export function ctxPointerOk(base: { off: number; var?: Scalar }, r: number): void {
  if (base.off !== 0) refuse(`dereference of modified ctx ptr R${r} off=${base.off} disallowed`);
  if (base.var && !(base.var.var.mask === 0n && base.var.var.value === 0n))
    refuse(`variable ctx access var_off=${T.show(base.var.var)} disallowed`);
}

function ctxAccess(base: { off: number; var?: Scalar }, r: number, off: number, size: number, write: boolean, env: Env): Reg {
  ctxPointerOk(base, r);
  // check_ctx_access: the type's is_valid_access decides, and says which fields are packet pointers
  const { isValidAccess, packetFields: fields } = env.ops;
  if (!isValidAccess) return unsupported(`the context of program type ${env.progType}`);
  if (!isValidAccess({ off, size, write })) refuse(`invalid bpf_context access off=${off} size=${size}`);
  const pointer = write ? undefined : env.ops.pointerFields?.[off];
  if (pointer) return ctxSocket(pointer, env) ?? unsupported(`the ${pointer} pointer a read of context offset ${off} gives`);
  if (!write && fields) {
    const id = 0;
    if (off === fields.data) return { k: 'pkt', off: 0, range: 0, id, var: ZERO };
    if (off === fields.dataEnd) return { k: 'pkt_end', off: 0 };
    if (off === fields.dataMeta) return { k: 'pkt_meta', off: 0, range: 0, id, var: ZERO };
  }
  return unknownScalar;
}

/** load: what `size` bytes at `off` from the pointer in `r` read as (check_mem_access, BPF_READ). */
export function load(vs: VState, base: Reg, r: number, off: number, size: number, env: Env): Reg {
  switch (base.k) {
    case 'scalar':
      return refuse(`R${r} invalid mem access 'scalar'`);
    case 'ctx':
      return ctxAccess(base, r, off, size, false, env);
    case 'stack':
      return base.var ? stackReadVarOff(vs, base as VarStack, r, off, size, env) : stackRead(vs, base, r, off, size, env);
    case 'pkt':
    case 'pkt_meta':
      return (packetAccess(base, r, off, size, false, env), unknownScalar);
    case 'map_value': {
      mapValueRead(base, r, off, size, true);
      // a kptr field gives the pointer it holds (check_map_kptr_access, BPF_LDX)
      const kptr = kptrAccess(base, r, off, size, true);
      if (kptr) return kptrLoad(kptr, () => env.nextId());
      return directRead(base, off, size) ?? unknownScalar;
    }
    case 'mem':
      // a kernel struct whose layout bpfbox keeps (btfStruct.ts): check_ptr_to_btf_access
      if (base.btf && kernStructSize(base.btf) !== undefined) {
        if (base.var.var.mask !== 0n || base.var.var.value !== 0n)
          refuse(
            `R${r} is ptr_${base.btf} invalid variable offset: off=${base.off + off}, var_off=(0x${base.var.var.value.toString(16)}; 0x${base.var.var.mask.toString(16)})`,
            EACCES,
          );
        return btfStructRead(base.btf, r, base.off + off, size);
      }
      return (regionAccess(base, r, off, size, base.size), unknownScalar);
    case 'map_ptr':
      return mapPtrAccess(base.m, r, base.off + off, false);
    case 'sock':
      return (sockAccess(base, r, off, size, false), unknownScalar);
    default:
      return refuse(`R${r} invalid mem access '${kindName(base)}'`);
  }
}

/**
 * store: a write of `size` bytes of `value` at `off` from the pointer in `r` (check_mem_access,
 * BPF_WRITE); `src` the value's register for BPF_STX (undefined for BPF_ST's immediate).
 */
export function store(vs: VState, base: Reg, r: number, off: number, size: number, value: Reg, env: Env, src?: number): void {
  switch (base.k) {
    case 'scalar':
      return void refuse(`R${r} invalid mem access 'scalar'`);
    case 'ctx':
      return void ctxAccess(base, r, off, size, true, env);
    case 'stack':
      return base.var ? stackWriteVarOff(vs, base as VarStack, r, off, size, value, env) : stackWrite(vs, base, r, off, size, value, env);
    case 'pkt':
    case 'pkt_meta':
      return packetAccess(base, r, off, size, true, env);
    case 'map_value': {
      mapValueWrite(base, r, off, size, true);
      // a kptr field takes only what check_map_kptr_access allows
      const kptr = kptrAccess(base, r, off, size, true);
      if (kptr) kptrStore(kptr, value, src, (regs) => env.demand(regs));
      return;
    }
    case 'mem':
      // a kernel object a kfunc gave (PTR_TO_BTF_ID): btf_struct_access allows no writes for the types bpfbox has
      if (base.btf) return void refuse('only read is supported', EACCES);
      if (base.rdonly) return void refuse(`R${r} cannot write into rdonly_mem`, EACCES);
      return regionAccess(base, r, off, size, base.size);
    case 'map_ptr':
      return mapPtrAccess(base.m, r, base.off + off, true);
    case 'sock':
      return sockAccess(base, r, off, size, true);
    default:
      return void refuse(`R${r} invalid mem access '${kindName(base)}'`);
  }
}

function stackBounds(total: number, regOff: number, insnOff: number, size: number, r: number, what: string): void {
  // alignment first, then bounds (check_ptr_alignment runs before check_stack_access)
  if (size > 0 && total % size !== 0) refuse(`misaligned stack access off 0+${regOff}+${insnOff} size ${size}`);
  if (total < -STACK_SIZE || total + size > 0) refuse(`invalid ${what} stack R${r} off=${total} size=${size}`);
}

function touch(env: Env, vs: VState, frame: number, total: number): void {
  const fn = vs.frames[frame].fn;
  if (-total > (env.stackDepth.get(fn) ?? 0)) env.stackDepth.set(fn, -total);
}

function stackWrite(vs: VState, base: { off: number; frame: number }, r: number, off: number, size: number, value: Reg, env: Env): void {
  const total = base.off + off;
  stackBounds(total, base.off, off, size, r, 'write to');
  touch(env, vs, base.frame, total);
  const stack = vs.frames[base.frame].stack;
  const i = (-total - 1) >> 3;
  const b = total + 8 * (i + 1);
  // a write over a dynptr's slot destroys the dynptr (destroy_if_dynptr_stack_slot)
  destroyDynptrSlot(vs, base.frame, i, env);
  // check_stack_write_fixed_off: a pointer is spilled whole or not at all (a scalar may be
  // spilled in part, privileged, at the slot's start)
  if (size !== 8 && value.k !== 'scalar' && value.k !== 'none') refuse('invalid size of register spill', EACCES);
  // a whole register, or (privileged) a scalar at the slot's start, is spilled: it reads back as it was
  if (size === 8 || (b === 0 && value.k === 'scalar')) {
    // save_register_state: the bytes above a narrow spill stay zero or unwritten, any other becomes misc
    if (size === 8) stack[i] = { k: 'spill', reg: value, size };
    else {
      const was = stack[i];
      const up = 0xff & ~((1 << size) - 1);
      const valid = validBits(was) & up;
      const zero = (was.k === 'misc' ? was.zero : was.k === 'spill' ? (was.above?.zero ?? 0) & ~((1 << was.size) - 1) : 0) & up;
      stack[i] = { k: 'spill', reg: value, size, above: { zero, valid } };
    }
    if (size === 8) env.slots.write(base.frame, i);
    return;
  }
  // bytes: STACK_ZERO where a known zero went, STACK_MISC elsewhere (a spill there is gone)
  const was = stack[i];
  const bits = ((1 << size) - 1) << b;
  const zero = value.k === 'scalar' && value.s.umax === 0n;
  // over a spill, every byte written before becomes misc (scrub_spilled_slot), zero ones too
  const before = was.k === 'misc' ? was.zero : 0;
  stack[i] = { k: 'misc', zero: zero ? before | bits : before & ~bits, valid: validBits(was) | bits };
}

/** validBits: the bytes of a slot written so far (for the log's `mmmm????`). */
const validBits = (s: StackSlot): number =>
  s.k === 'invalid' ? 0 : s.k === 'misc' ? (s.valid ?? 0xff) : ((1 << s.size) - 1) | (s.above?.valid ?? 0);

/** The value of `size` bytes, unknown but for their width. */
const bytesOf = (size: number): Reg => (size === 8 ? unknownScalar : scalar(sync({ ...UNKNOWN, umax: (1n << BigInt(8 * size)) - 1n })));

function stackRead(vs: VState, base: { off: number; frame: number }, r: number, off: number, size: number, env: Env): Reg {
  const total = base.off + off;
  stackBounds(total, base.off, off, size, r, 'read from');
  touch(env, vs, base.frame, total);
  const i = (-total - 1) >> 3;
  const b = total + 8 * (i + 1);
  env.slots.read(base.frame, i);
  const slot = vs.frames[base.frame].stack[i];
  if (slot.k === 'spill') {
    // an iterator's or dynptr's slots are not data (STACK_ITER, STACK_DYNPTR)
    if (slot.reg.k === 'iter' || slot.reg.k === 'dynptr') refuse(`invalid read from stack off ${total}+0 size ${size}`, EACCES);
    if (slot.reg.k !== 'scalar') {
      if (size === 8) return slot.reg;
      refuse('invalid size of register fill');
    }
    // the spilled scalar back whole when read as written and it fits; else bytes of it
    const fits = slot.size === 8 || (slot.reg as { s: Scalar }).s.umax < 1n << BigInt(8 * slot.size);
    if (b === 0 && size === slot.size && fits) return slot.reg;
    return bytesOf(size);
  }
  // privileged: uninitialised bytes read as unknown; bytes all known zero read as 0
  if (slot.k === 'misc' && ((slot.zero >> b) & ((1 << size) - 1)) === (1 << size) - 1) return scalar(scalarConst(0n));
  return bytesOf(size);
}

/** VarStack: a stack pointer with a variable part. */
type VarStack = { readonly off: number; readonly frame: number; readonly var: Scalar };

/**
 * stackVarRange: check_ptr_alignment and check_stack_access_within_bounds for a stack pointer
 * with a variable part: the variable part aligned to the size (strictly, as the stack always is),
 * bounded, and every byte it may reach inside the 512 bytes below the frame pointer. Returns the
 * lowest and one past the highest byte offset (from the frame pointer) the access may touch.
 */
function stackVarRange(
  vs: VState,
  base: VarStack,
  r: number,
  off: number,
  size: number,
  what: string,
  env: Env,
  aligned = true,
): [number, number] {
  const v = base.var;
  const fixed = base.off + off;
  const at = T.add(v.var, T.tnumConst(BigInt.asUintN(64, BigInt(fixed))));
  if (aligned && size > 0 && ((at.value | at.mask) & BigInt(size - 1)) !== 0n)
    refuse(`misaligned stack access off ${T.show(v.var)}+${base.off}+${off} size ${size}`, EACCES);
  if (v.smax >= MAX_VAR_OFF || v.smin <= -MAX_VAR_OFF) refuse(`invalid unbounded variable-offset ${what} stack R${r}`, EACCES);
  const lo = Number(v.smin) + fixed;
  const hi = Number(v.smax) + fixed + size;
  const bad = (errno: number) =>
    refuse(`invalid variable-offset ${what} stack R${r} var_off=${T.show(v.var)} off=${fixed} size=${size}`, errno);
  if (lo < -STACK_SIZE || lo > -1) bad(EACCES);
  if (hi > 0) bad(EINVAL);
  touch(env, vs, base.frame, lo);
  return [lo, hi];
}

/** Each byte offset in [lo, hi) (from the frame pointer) as its slot and its byte in the slot (bit b of `misc.zero`). */
function* bytesIn(lo: number, hi: number): Generator<[spi: number, b: number, o: number]> {
  for (let o = lo; o < hi; o++) {
    const spi = (-o - 1) >> 3;
    yield [spi, o + 8 * (spi + 1), o];
  }
}

/**
 * stackReadVarOff: check_stack_read_var_off, privileged: any byte in reach may be read (written or
 * not, spilled scalars and pointers alike) but an iterator's or dynptr's; the value is 0 when every
 * byte in reach is a known zero (STACK_ZERO), else unknown (mark_reg_stack_read).
 */
function stackReadVarOff(vs: VState, base: VarStack, r: number, off: number, size: number, env: Env): Reg {
  const [lo, hi] = stackVarRange(vs, base, r, off, size, 'read from', env);
  const stack = vs.frames[base.frame].stack;
  let zeros = true;
  for (const [spi, b, o] of bytesIn(lo, hi)) {
    const slot = stack[spi];
    if (slot.k === 'spill' && (slot.reg.k === 'iter' || slot.reg.k === 'dynptr'))
      refuse(`invalid read from stack R${r} var_off ${T.show(base.var.var)}+${o - lo} size ${size}`, EACCES);
    env.slots.read(base.frame, spi);
    env.scratchSlot?.(base.frame, spi);
    if (!(slot.k === 'misc' && (slot.zero >> b) & 1)) zeros = false;
  }
  return zeros ? constReg(0n) : unknownScalar;
}

/**
 * stackWriteVarOff: check_stack_write_var_off, privileged: every byte in reach may be written, so
 * each becomes misc (STACK_ZERO for a zero written over a known zero; a spilled zero under a zero
 * stays), and a spill it reaches is gone. No slot counts as fully written (liveness). A zero kept
 * as STACK_ZERO asks for the written register's precision.
 */
function stackWriteVarOff(vs: VState, base: VarStack, r: number, off: number, size: number, value: Reg, env: Env): void {
  const [lo, hi] = stackVarRange(vs, base, r, off, size, 'write to', env);
  const stack = vs.frames[base.frame].stack;
  const zero = value.k === 'scalar' && value.s.umax === 0n;
  for (const [spi, b] of bytesIn(lo, hi)) {
    const slot = stack[spi];
    env.scratchSlot?.(base.frame, spi);
    if (slot.k === 'spill') {
      if (slot.reg.k === 'iter' || slot.reg.k === 'dynptr') return unsupported('a variable-offset stack write over an iterator or dynptr');
      if (zero && slot.reg.k === 'scalar' && slot.reg.s.umax === 0n) continue;
      // scrub: the spill's bytes become unknown data
      stack[spi] = { k: 'misc', zero: 0, valid: validBits(slot) };
    }
    const was = stack[spi] as Exclude<StackSlot, { k: 'spill' }>;
    const before = was.k === 'misc' ? was.zero : 0;
    const bit = 1 << b;
    stack[spi] = { k: 'misc', zero: zero && before & bit ? before : before & ~bit, valid: validBits(was) | bit };
  }
}

/**
 * helperStackVarOff: check_stack_range_initialized for a helper's memory on the stack at a variable
 * offset, privileged: in bounds (not aligned), any byte readable but an iterator's or dynptr's; a
 * helper's write there marks nothing written (the kernel cannot say which bytes it fills).
 */
function helperStackVarOff(vs: VState, p: VarStack, r: number, n: number, raw: boolean, env: Env): void {
  const [lo, hi] = stackVarRange(vs, p, r, 0, n, raw ? 'write to' : 'read from', env, false);
  const stack = vs.frames[p.frame].stack;
  for (const [spi, , o] of bytesIn(lo, hi)) {
    const slot = stack[spi];
    if (slot.k === 'spill' && (slot.reg.k === 'iter' || slot.reg.k === 'dynptr'))
      refuse(`invalid read from stack R${r} var_off ${T.show(p.var.var)}+${o - lo} size ${n}`, EACCES);
    env.slots.read(p.frame, spi);
  }
}

/**
 * constantKey: the value a key on the stack is known to hold (get_constant_map_key): zero
 * bytes, or a constant scalar spilled with exactly the key's size at the key's address.
 */
export function constantKey(vs: VState, key: Reg, size: number): bigint | undefined {
  if (key.k !== 'stack' || key.var || size === 0 || size > 8) return undefined;
  const i = (-key.off - 1) >> 3;
  const b = key.off + 8 * (i + 1);
  const slot = vs.frames[key.frame].stack[i];
  if (b + size > 8 || !slot) return undefined;
  if (slot.k === 'misc' && ((slot.zero >> b) & ((1 << size) - 1)) === (1 << size) - 1) return 0n;
  if (slot.k === 'spill' && b === 0 && slot.size === size && slot.reg.k === 'scalar' && slot.reg.s.var.mask === 0n)
    return slot.reg.s.var.value;
  return undefined;
}

/**
 * packetAccess: `size` bytes at `off` from a packet pointer must lie in the range a comparison
 * with data_end proved (check_packet_access; the log's last line is the second message).
 */
function packetAccess(
  base: { off: number; range: number; id: number; var: Scalar },
  r: number,
  off: number,
  size: number,
  write: boolean,
  env: Env,
): void {
  if (write && !env.ops.directPacketWrite) refuse('cannot write into packet');
  if (write) env.effects.writesPacket = true;
  if (base.var.smin < 0n) refuse(`R${r} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  const at = base.off + off;
  if (at < 0 || at + size > base.range) {
    throw new Refused(
      EACCES,
      `R${r} offset is outside of the packet`,
      [],
      [`invalid access to packet, off=${at} size=${size}, R${r}(id=${base.id},off=${at},r=${base.range})`],
    );
  }
}

/**
 * regionAccess: inside a map value or ring buffer record of `limit` bytes, for every value
 * the variable part may take (check_mem_region_access; the log's last line names the register).
 */
export function regionAccess(
  base: { off: number; var: Scalar; m?: MapInfo },
  r: number,
  off: number,
  size: number,
  limit: number,
  direct = false,
): void {
  const at = BigInt(base.off + off);
  const { smin, umax } = base.var;
  // __check_mem_access's line before the message
  const what = (o: bigint) => [
    base.m
      ? `invalid access to map value, value_size=${limit} off=${o} size=${size}`
      : `invalid access to memory, mem_size=${limit} off=${o} size=${size}`,
  ];
  if (smin < 0n && smin + at < 0n) refuse(`R${r} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  if (smin + at < 0n || smin + at + BigInt(size) > BigInt(limit))
    throw new Refused(EACCES, `R${r} min value is outside of the allowed memory range`, [], what(smin + at));
  if (umax >= MAX_VAR_OFF) refuse(`R${r} unbounded memory access, make sure to bounds check any such access`);
  if (umax + at + BigInt(size) > BigInt(limit))
    throw new Refused(EACCES, `R${r} max value is outside of the allowed memory range`, [], what(umax + at));
  // the lock word is the helpers' alone (check_map_access: btf_record fields)
  const lock = base.m?.spinLock;
  if (lock !== undefined && smin + at < BigInt(lock + 4) && umax + at + BigInt(size) > BigInt(lock))
    refuse('bpf_spin_lock cannot be accessed directly by load/store');
  const timer = base.m?.timer;
  if (timer !== undefined && smin + at < BigInt(timer + 16) && umax + at + BigInt(size) > BigInt(timer))
    refuse('bpf_timer cannot be accessed directly by load/store');
  // kptr fields: a direct 8-byte access exactly at one, never a helper's (check_map_access)
  if (base.m?.kptrs) kptrAccess({ ...base, m: base.m }, r, off, size, direct);
}

/** mapValueWrite: a store into a map value: not into a map programs may only read (check_map_access_type), then inside it. */
export function mapValueWrite(base: { m: MapInfo; off: number; var: Scalar }, r: number, off: number, size: number, direct = false): void {
  if (base.m.readonlyProg) refuse(`write into map forbidden, value_size=${base.m.valueSize} off=${base.off + off} size=${size}`);
  regionAccess(base, r, off, size, base.m.valueSize, direct);
}

/** mapValueRead: a load from a map value: not from a map programs may only write (check_map_access_type), then inside it. */
/**
 * directRead: bpf_map_direct_read: a load of 1, 2, 4 or 8 bytes at a constant offset in the
 * value of a frozen read-only array (`.rodata`) reads the constant there (little-endian).
 */
function directRead(base: { m: MapInfo; off: number; var: Scalar }, off: number, size: number): Reg | undefined {
  const bytes = base.m.constValue;
  if (!bytes || !isConstScalar(base.var) || ![1, 2, 4, 8].includes(size)) return undefined;
  const at = base.off + Number(base.var.umin) + off;
  if (at < 0 || at + size > bytes.length) return undefined;
  let v = 0n;
  for (let b = size - 1; b >= 0; b--) v = (v << 8n) | BigInt(bytes[at + b]);
  return constReg(v);
}

function mapValueRead(base: { m: MapInfo; off: number; var: Scalar }, r: number, off: number, size: number, direct = false): void {
  if (base.m.writeonlyProg) refuse(`read from map forbidden, value_size=${base.m.valueSize} off=${base.off + off} size=${size}`);
  regionAccess(base, r, off, size, base.m.valueSize, direct);
}

/**
 * helperMemory: a helper reads (or, `raw`, writes) `size` bytes at the pointer in `r`
 * (check_helper_mem_access): stack, packet, map value or ring buffer memory, for every size
 * the size register may hold. `uninit`: the argument is MEM_UNINIT (the log then shows the
 * stack slots written, for a size known).
 */
export function helperMemory(vs: VState, p: Reg, r: number, size: Scalar, raw: boolean, env: Env, uninit = raw): void {
  const n = Number(size.umax);
  if (p.k === 'stack' && p.var) return helperStackVarOff(vs, p as VarStack, r, n, raw, env);
  if (size.umax === 0n) return;
  switch (p.k) {
    case 'stack': {
      const lo = p.off;
      if (lo + n > 0) refuse(`invalid ${raw ? 'write to' : 'read from'} stack R${r} off=${lo} size=${n}`, EINVAL);
      if (lo < -STACK_SIZE) refuse(`invalid ${raw ? 'write to' : 'read from'} stack R${r} off=${lo} size=${n}`);
      touch(env, vs, p.frame, lo);
      // a dynptr's bytes are neither a helper's to write nor to read (check_stack_range_initialized)
      for (let a = lo; a < lo + n; a++)
        if (isDynptrSlot(vs, p.frame, (-a - 1) >> 3))
          refuse(raw ? `potential write to dynptr at off=${a} disallowed` : `invalid read from stack R${r} off ${lo}+0 size ${n}`, EACCES);
      // liveness: a read of every slot it may reach; a write of the slots it surely fills (umin bytes)
      for (let i = (-lo - 1) >> 3; i >= -(lo + n) >> 3 && i >= 0; i--) {
        if (!raw) env.slots.read(p.frame, i);
        else if (-8 * (i + 1) >= lo && -8 * i <= lo + Number(size.umin)) env.slots.write(p.frame, i);
      }
      // a helper's write initialises the bytes; privileged reads of uninitialised bytes are allowed
      if (raw) {
        const stack = vs.frames[p.frame].stack;
        for (let a = lo; a < lo + n; a++) {
          const i = (-a - 1) >> 3;
          const bit = 1 << (a + 8 * (i + 1));
          const was = stack[i];
          // MEM_WRITE memory (not MEM_UNINIT) is clobbered byte by byte: above a narrow spill the spill stays
          if (!uninit && was.k === 'spill' && was.above && bit >= 1 << was.size)
            stack[i] = { ...was, above: { zero: was.above.zero & ~bit, valid: was.above.valid | bit } };
          else stack[i] = { k: 'misc', zero: (was.k === 'misc' ? was.zero : 0) & ~bit, valid: validBits(was) | bit };
          // the kernel's byte-by-byte write of MEM_UNINIT memory of a known size scratches the slots (check_helper_call)
          if (uninit && size.umin === size.umax) env.scratchSlot?.(p.frame, i);
        }
      }
      return;
    }
    case 'pkt':
    case 'pkt_meta':
      return packetAccess(p, r, 0, n, raw, env);
    case 'map_value':
      return raw ? mapValueWrite(p, r, 0, n) : mapValueRead(p, r, 0, n);
    case 'mem':
      // check_helper_mem_access: a kernel object (PTR_TO_BTF_ID) or read-only memory is no destination
      if (raw && p.btf) return void refuse('only read is supported', EACCES);
      if (raw && p.rdonly) return void refuse(`R${r} cannot write into rdonly_mem`, EACCES);
      // a kernel struct bpfbox keeps the layout of: the bytes read as one load of that size (check_ptr_to_btf_access)
      if (p.btf && kernStructSize(p.btf) !== undefined) return void load(vs, p, r, 0, n, env);
      return regionAccess(p, r, 0, n, p.size);
    case 'ctx':
      return void refuse(`R${r} type=ctx expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_`, EACCES);
    default:
      return void refuse(
        `R${r} type=${kindName(p)} expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_`,
        EACCES,
      );
  }
}

/**
 * saveAuxPtrType: save_aux_ptr_type (kernel/bpf/verifier.c): the instruction at `slot` accessed
 * memory through a pointer of kind `k`. One instruction may not serve the context on one path
 * and another kind on another (the kernel rewrites context accesses in place, so one
 * instruction cannot be both): "same insn cannot be used with different pointers". Other
 * kinds may mix (reg_type_mismatch_ok; bpfbox has none of its socket and BTF kinds).
 */
export function saveAuxPtrType(env: Env, slot: number, k: Kind): void {
  const prev = env.ptrKinds.get(slot);
  if (prev === undefined) env.ptrKinds.set(slot, k);
  else if (prev !== k && (prev === 'ctx' || k === 'ctx')) refuse('same insn cannot be used with different pointers', EINVAL);
}
