import { ctxAccessOk } from '../../hooks/ctxAccess.js';
import { SkBuff } from '../../hooks/skb.js';
import { XdpMd } from '../../hooks/xdp.js';
import type { Instruction } from '../instruction.js';
import { AluOp, Class, JmpOp, LDDW, Mode, Size, Source, opClass } from '../opcodes.js';
import { ProgType } from '../../hooks/progType.js';
import { type AluOpName, UNKNOWN, alu, isConstScalar, scalarConst } from './scalar.js';
import { type FrameState, type MapInfo, NONE, type Reg, STACK_SIZE, constReg, entryState, kindName, scalar, unknownScalar } from './state.js';

/** StraightResult: the verdict on a straight-line program, or `unsupported` for what this walker does not model yet. */
export type StraightResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly insn: number; readonly errno: number; readonly message: string }
  | { readonly unsupported: string; readonly insn: number };

const EACCES = 13;
const EINVAL = 22;
const EBADF = 9;
const ENOTSUPP = 524;
const SIZES: Readonly<Record<number, number>> = { [Size.BPF_W]: 4, [Size.BPF_H]: 2, [Size.BPF_B]: 1, [Size.BPF_DW]: 8 };
const OPS: Readonly<Record<number, AluOpName>> = {
  [AluOp.BPF_ADD]: 'add', [AluOp.BPF_SUB]: 'sub', [AluOp.BPF_MUL]: 'mul', [AluOp.BPF_DIV]: 'div', [AluOp.BPF_OR]: 'or', [AluOp.BPF_AND]: 'and',
  [AluOp.BPF_LSH]: 'lsh', [AluOp.BPF_RSH]: 'rsh', [AluOp.BPF_NEG]: 'neg', [AluOp.BPF_MOD]: 'mod', [AluOp.BPF_XOR]: 'xor', [AluOp.BPF_MOV]: 'mov', [AluOp.BPF_ARSH]: 'arsh',
};
/** The operator the kernel names in "pointer arithmetic with %s operator prohibited". */
const OPERATOR: Readonly<Record<number, string>> = {
  [AluOp.BPF_ADD]: '+=', [AluOp.BPF_MUL]: '*=', [AluOp.BPF_DIV]: '/=', [AluOp.BPF_OR]: '|=', [AluOp.BPF_AND]: '&=', [AluOp.BPF_LSH]: '<<=', [AluOp.BPF_RSH]: '>>=',
  [AluOp.BPF_MOD]: '%=', [AluOp.BPF_XOR]: '^=', [AluOp.BPF_ARSH]: 's>>=',
};
/** Context fields that hold packet pointers (their loads give pointers this walker does not model yet). */
const PACKET_FIELDS: Readonly<Record<number, readonly number[]>> = {
  [ProgType.BPF_PROG_TYPE_XDP]: [XdpMd.data, XdpMd.data_end, XdpMd.data_meta],
  [ProgType.BPF_PROG_TYPE_SCHED_CLS]: [SkBuff.data, SkBuff.data_end, SkBuff.data_meta],
  [ProgType.BPF_PROG_TYPE_SCHED_ACT]: [SkBuff.data, SkBuff.data_end, SkBuff.data_meta],
};

/** Refused: the program is rejected here (errno and the kernel's message). */
export class Refused extends Error {
  readonly errno: number;
  constructor(errno: number, message: string) {
    super(message);
    this.errno = errno;
  }
}
/** Unsupported: something the walk does not model yet. */
export class Unsupported extends Error {}

/**
 * verifyStraight: the verifier's walk over a program without jumps or calls, in privileged
 * mode as bpftool loads as root (uninitialised stack reads and pointer leaks allowed):
 * registers read before written, scalar arithmetic, pointer arithmetic on the context and the
 * stack, stack bounds and alignment, spills and fills, context fields per type, R0 at exit.
 * A first piece of issue 7's verifier: the branching walk will carry this state per path.
 */
export function verifyStraight(insns: readonly Instruction[], progType: number): StraightResult {
  const st = entryState();
  let slot = 0;
  for (const i of insns) {
    try {
      if (step(st, i, progType)) return { ok: true };
    } catch (e) {
      if (e instanceof Refused) return { ok: false, insn: slot, errno: e.errno, message: e.message };
      if (e instanceof Unsupported) return { unsupported: e.message, insn: slot };
      throw e;
    }
    slot += i.opcode === LDDW ? 2 : 1;
  }
  return { unsupported: 'falls off the end', insn: slot };
}

const refuse = (m: string, errno = EACCES): never => {
  throw new Refused(errno, m);
};
const unsupported = (m: string): never => {
  throw new Unsupported(m);
};

function read(st: FrameState, r: number): Reg {
  const v = st.regs[r];
  if (v.k === 'none') refuse(`R${r} !read_ok`);
  return v;
}

/** step applies one non-jump instruction (or exit, returning true); jumps and calls are Unsupported. */
export function step(st: FrameState, i: Instruction, progType: number, maps: readonly MapInfo[] = []): boolean {
  const cls = opClass(i.opcode);
  const op = i.opcode & 0xf0;
  const mode = i.opcode & 0xe0;
  switch (cls) {
    case Class.BPF_ALU:
    case Class.BPF_ALU64: {
      const bits = cls === Class.BPF_ALU64 ? 64 : 32;
      if (op === AluOp.BPF_END) {
        // byte order: a known value is swapped exactly; otherwise an unknown of the width
        const r = read(st, i.dst);
        const width = Number(i.imm);
        if (![16, 32, 64].includes(width)) refuse('BPF_END uses reserved fields', EINVAL);
        if (r.k !== 'scalar') return (st.regs[i.dst] = unknownScalar), false;
        const swap = cls === Class.BPF_ALU64 || (i.opcode & Source.BPF_X) !== 0; // bswap, or to big-endian on this little-endian machine
        const mask = (1n << BigInt(width)) - 1n;
        if (isConstScalar(r.s)) {
          let v = r.s.var.value & mask;
          if (swap) v = BigInt(`0x${(v.toString(16).padStart(width / 4, '0').match(/../g) ?? []).reverse().join('')}`);
          st.regs[i.dst] = constReg(v);
        } else st.regs[i.dst] = scalar(alu('and', swap ? UNKNOWN : r.s, scalarConst(mask), 64));
        return false;
      }
      const x = (i.opcode & Source.BPF_X) !== 0;
      // reserved fields (check_alu_op): NEG takes nothing; K forms no source register, X forms no immediate
      if (op === AluOp.BPF_NEG && x) refuse(`unknown opcode ${i.opcode.toString(16)}`, EINVAL);
      if (op === AluOp.BPF_NEG && (i.src !== 0 || i.offset !== 0 || Number(i.imm) !== 0)) refuse('BPF_NEG uses reserved fields', EINVAL);
      if (op !== AluOp.BPF_NEG && (x ? Number(i.imm) !== 0 : i.src !== 0)) refuse('BPF_ALU uses reserved fields', EINVAL);
      const src = op === AluOp.BPF_NEG ? constReg(0n) : x ? read(st, i.src) : constReg(BigInt.asUintN(64, BigInt(Number(i.imm))));
      if (op === AluOp.BPF_MOV) {
        if (i.offset !== 0) return unsupported('sign-extending moves'), false;
        // a 32-bit move keeps the low half (zero-extended); of a pointer, an unknown scalar
        st.regs[i.dst] = bits === 64 ? src : src.k === 'scalar' ? scalar(alu('mov', src.s, src.s, 32)) : unknownScalar;
        return false;
      }
      const dst = read(st, i.dst);
      if (dst.k === 'scalar' && src.k === 'scalar') {
        if ((op === AluOp.BPF_DIV || op === AluOp.BPF_MOD) && i.offset !== 0) return unsupported('signed division'), false;
        st.regs[i.dst] = scalar(alu(OPS[op], dst.s, src.s, bits));
        return false;
      }
      // pointer arithmetic (adjust_ptr_min_max_vals), privileged: a negated pointer and a
      // 32-bit subtraction are unknown scalars; only + and - of a constant keep a pointer
      const ptr = dst.k !== 'scalar' ? dst : src;
      if (dst.k !== 'scalar' && src.k !== 'scalar') {
        // two pointers: a difference is an unknown scalar (privileged), anything else is refused
        if (op === AluOp.BPF_SUB) return (st.regs[i.dst] = unknownScalar), false;
        refuse(`R${i.dst} pointer ${OPERATOR[op] ?? '+='} pointer prohibited`);
      }
      if (op === AluOp.BPF_NEG) return (st.regs[i.dst] = unknownScalar), false;
      if (bits === 32) {
        if (op === AluOp.BPF_SUB) return (st.regs[i.dst] = unknownScalar), false;
        refuse(`R${i.dst} 32-bit pointer arithmetic prohibited`);
      }
      if (op === AluOp.BPF_AND || op === AluOp.BPF_OR || op === AluOp.BPF_XOR) refuse(`R${i.dst} bitwise operator ${OPERATOR[op]} on pointer prohibited`);
      if (op !== AluOp.BPF_ADD && op !== AluOp.BPF_SUB) refuse(`R${i.dst} pointer arithmetic with ${OPERATOR[op]} operator prohibited`);
      if (op === AluOp.BPF_SUB && dst.k === 'scalar') refuse(`R${i.dst} tried to subtract pointer from scalar`);
      if (op === AluOp.BPF_SUB && ptr.k === 'stack') refuse(`R${i.dst} subtraction from stack pointer prohibited`);
      const k = src.k === 'scalar' ? src.s : dst.k === 'scalar' ? dst.s : undefined;
      if (!k || !isConstScalar(k)) return unsupported('variable pointer offsets'), false;
      const delta = Number(BigInt.asIntN(64, k.var.value)) * (op === AluOp.BPF_SUB ? -1 : 1);
      if (ptr.k === 'pkt_end') refuse(`R${i.dst} pointer arithmetic on pkt_end prohibited`);
      if (ptr.k === 'map_value_or_null') refuse(`R${i.dst} pointer arithmetic on map_value_or_null prohibited, null-check it first`);
      if (ptr.k === 'map_ptr') refuse(`R${i.dst} pointer arithmetic on map_ptr prohibited`);
      st.regs[i.dst] = { ...ptr, off: (ptr as { off: number }).off + delta } as Reg;
      return false;
    }
    case Class.BPF_LD:
      if (i.opcode === LDDW && i.src === 0) {
        st.regs[i.dst] = constReg(BigInt.asUintN(64, i.imm));
        return false;
      }
      if (i.opcode === LDDW && i.src === 1) {
        const n = Number(BigInt.asUintN(32, i.imm));
        if (!maps[n]) refuse(`fd ${n} is not pointing to valid bpf_map`, EBADF);
        st.regs[i.dst] = { k: 'map_ptr', map: n, off: 0 };
        return false;
      }
      if (i.opcode === LDDW && i.src === 2) {
        // BPF_PSEUDO_MAP_VALUE: the address of a value inside an array map (global data)
        const n = Number(BigInt.asUintN(32, i.imm));
        const off = Number(BigInt.asUintN(32, i.imm >> 32n));
        const m = maps[n];
        if (!m) refuse(`fd ${n} is not pointing to valid bpf_map`, EBADF);
        if (!m.array) return unsupported('direct value access to this map type'), false;
        // array_map_direct_value_addr: one entry only (ENOTSUPP), the offset inside the value (EINVAL)
        if (m.maxEntries !== 1) refuse(`invalid access to map value pointer, value_size=${m.valueSize} off=${off}`, ENOTSUPP);
        if (off >= m.valueSize) refuse(`invalid access to map value pointer, value_size=${m.valueSize} off=${off}`, EINVAL);
        st.regs[i.dst] = { k: 'map_value', map: n, off };
        return false;
      }
      if (mode === Mode.BPF_ABS || mode === Mode.BPF_IND) return packetLoad(st, i, progType), false;
      return unsupported('lddw pseudo sources'), false;
    case Class.BPF_LDX: {
      if (mode !== Mode.BPF_MEM) return unsupported('sign-extending loads'), false;
      const base = read(st, i.src);
      st.regs[i.dst] = load(st, base, i.src, i.offset, SIZES[i.opcode & 0x18], progType, maps);
      return false;
    }
    case Class.BPF_ST:
    case Class.BPF_STX: {
      if (mode === Mode.BPF_ATOMIC && cls === Class.BPF_STX) return atomic(st, i, progType, maps), false;
      if (mode !== Mode.BPF_MEM) return unsupported('this store mode'), false;
      const base = read(st, i.dst);
      const value = cls === Class.BPF_STX ? read(st, i.src) : constReg(BigInt.asUintN(64, BigInt(Number(i.imm))));
      store(st, base, i.dst, i.offset, SIZES[i.opcode & 0x18], value, progType, maps);
      return false;
    }
    case Class.BPF_JMP:
    case Class.BPF_JMP32:
      if (op === JmpOp.BPF_EXIT) {
        read(st, 0);
        return true;
      }
      if (op === JmpOp.BPF_CALL && i.src === 0 && Number(i.imm) === 1) return call_map_lookup_elem(st, maps), false;
      if (op === JmpOp.BPF_CALL && i.src === 0 && HELPERS[Number(i.imm)]) return callHelper(st, Number(i.imm), maps), false;
      return unsupported('jumps and calls'), false;
  }
  return unsupported(`class ${cls}`), false;
}

function memBase(base: Reg, r: number): void {
  if (base.k === 'scalar') refuse(`R${r} invalid mem access 'scalar'`);
}

function load(st: FrameState, base: Reg, r: number, off: number, size: number, progType: number, maps: readonly MapInfo[]): Reg {
  memBase(base, r);
  if (base.k === 'ctx') {
    if (base.off !== 0) refuse(`dereference of modified ctx ptr R${r} off=${base.off} disallowed`);
    const ok = ctxAccessOk(progType, off, size, false);
    if (ok === undefined) return unsupported('this program type\'s context'), NONE;
    if (!ok) refuse(`invalid bpf_context access off=${off} size=${size}`);
    const fields = PACKET_FIELDS[progType];
    if (fields && off === fields[0]) return { k: 'pkt', off: 0, range: 0 };
    if (fields && off === fields[1]) return { k: 'pkt_end', off: 0 };
    if (fields && off === fields[2]) return { k: 'pkt_meta', off: 0, range: 0 };
    return unknownScalar;
  }
  if (base.k === 'stack') return stackRead(st, base.off + off, base.off, off, size, r);
  if (base.k === 'pkt' || base.k === 'pkt_meta') return packetAccess(base, r, off, size, progType, false), unknownScalar;
  if (base.k === 'pkt_end') refuse(`R${r} invalid mem access 'pkt_end'`);
  if (base.k === 'map_value') return mapValueAccess(base, r, off, size, maps), unknownScalar;
  if (base.k === 'map_value_or_null') refuse(`R${r} invalid mem access '${base.k}'`);
  // a map pointer reads struct bpf_map's fields through BTF (privileged): not modelled yet
  return unsupported(`loads through ${base.k}`), NONE;
}

function store(st: FrameState, base: Reg, r: number, off: number, size: number, value: Reg, progType: number, maps: readonly MapInfo[]): void {
  memBase(base, r);
  if (base.k === 'ctx') {
    if (base.off !== 0) refuse(`dereference of modified ctx ptr R${r} off=${base.off} disallowed`);
    const ok = ctxAccessOk(progType, off, size, true);
    if (ok === undefined) return void unsupported('this program type\'s context');
    if (!ok) refuse(`invalid bpf_context access off=${off} size=${size}`);
    return;
  }
  if (base.k === 'stack') return stackWrite(st, base.off + off, base.off, off, size, value, r);
  if (base.k === 'pkt' || base.k === 'pkt_meta') return packetAccess(base, r, off, size, progType, true);
  if (base.k === 'pkt_end') refuse(`R${r} invalid mem access 'pkt_end'`);
  if (base.k === 'map_value') return mapValueWrite(base, r, off, size, maps);
  if (base.k === 'map_value_or_null') refuse(`R${r} invalid mem access '${base.k}'`);
  unsupported(`stores through ${base.k}`);
}

function stackCheck(total: number, regOff: number, insnOff: number, size: number, r: number, what: 'read from' | 'write to'): void {
  // alignment first, then bounds (check_ptr_alignment runs before check_stack_access)
  if (total % size !== 0) refuse(`misaligned stack access off 0+${regOff}+${insnOff} size ${size}`);
  if (total < -STACK_SIZE || total + size > 0) refuse(`invalid ${what} stack R${r} off=${total} size=${size}`);
}

function stackWrite(st: FrameState, total: number, regOff: number, insnOff: number, size: number, value: Reg, r: number): void {
  stackCheck(total, regOff, insnOff, size, r, 'write to');
  const i = (-total - 1) >> 3;
  if (size === 8) {
    st.stack[i] = { k: 'spill', reg: value };
    return;
  }
  const cur = st.stack[i];
  if (cur.k === 'spill' && cur.reg.k !== 'scalar') return unsupported('overwriting part of a spilled pointer');
  st.stack[i] = { k: 'misc', written: 0 };
}

function stackRead(st: FrameState, total: number, regOff: number, insnOff: number, size: number, r: number): Reg {
  stackCheck(total, regOff, insnOff, size, r, 'read from');
  const slot = st.stack[(-total - 1) >> 3];
  if (slot.k === 'spill') {
    if (size === 8) return slot.reg;
    if (slot.reg.k !== 'scalar') refuse('invalid size of register fill');
  }
  // privileged: an uninitialised or partly written slot reads as an unknown scalar
  return unknownScalar;
}

/**
 * packetAccess: a load or store of `size` bytes at `off` from a packet pointer must lie in the
 * range a comparison with data_end proved (check_packet_access; the log's last line is the
 * second message).
 */
function packetAccess(base: { off: number; range: number }, r: number, off: number, size: number, progType: number, write: boolean): void {
  if (write && progType === ProgType.BPF_PROG_TYPE_SOCKET_FILTER) refuse(`cannot write into packet`);
  const at = base.off + off;
  if (at < 0 || at + size > base.range) {
    refuse(`R${r} offset is outside of the packet`);
  }
}

let nextId = 1;

/**
 * bpf_map_lookup_elem (1): r1 a map, r2 a stack pointer to key_size bytes; r0 becomes the
 * value's address or NULL, the argument registers r1-r5 unreadable.
 */
function call_map_lookup_elem(st: FrameState, maps: readonly MapInfo[]): void {
  const m = read(st, 1);
  if (m.k !== 'map_ptr') refuse(`R1 type=${kindName(m)} expected=map_ptr`);
  const key = read(st, 2);
  if (key.k !== 'stack') unsupported('keys not on the stack');
  const info = maps[(m as { map: number }).map];
  if (info.ofMaps) unsupported('lookups in maps of maps');
  const off = (key as { off: number }).off;
  // a helper's read of the stack (check_stack_range_initialized): past the frame EINVAL, below it EACCES
  if (off + info.keySize > 0) refuse(`invalid read from stack R2 off=${off} size=${info.keySize}`, EINVAL);
  if (off < -STACK_SIZE) refuse(`invalid read from stack R2 off=${off} size=${info.keySize}`);
  for (let r = 1; r <= 5; r++) st.regs[r] = NONE;
  st.regs[0] = { k: 'map_value_or_null', map: (m as { map: number }).map, off: 0, id: nextId++ };
}

/** mapValueAccess: inside the value (check_map_access; the log's last line names the register). */
function mapValueAccess(base: { map: number; off: number }, r: number, off: number, size: number, maps: readonly MapInfo[]): void {
  const vs = maps[base.map].valueSize;
  const at = base.off + off;
  if (at < 0 || at + size > vs) refuse(`R${r} min value is outside of the allowed memory range`);
}

/**
 * atomic: BPF_ATOMIC on the stack or a map value (the context and packets refuse it): 4 or 8
 * bytes, read and written; a fetch puts the old value, unknown, in src (cmpxchg: in r0).
 */
function atomic(st: FrameState, i: Instruction, progType: number, maps: readonly MapInfo[]): void {
  const size = SIZES[i.opcode & 0x18];
  if (size !== 4 && size !== 8) refuse('invalid atomic operand size', EINVAL);
  const base = read(st, i.dst);
  read(st, i.src);
  const imm = Number(i.imm);
  if (imm === 0xf1) read(st, 0);
  if (base.k === 'ctx' || base.k === 'pkt' || base.k === 'pkt_meta') refuse(`BPF_ATOMIC stores into R${i.dst} ${base.k} is not allowed`);
  if (base.k !== 'stack' && base.k !== 'map_value') return void unsupported(`atomics on ${base.k}`);
  load(st, base, i.dst, i.offset, size, progType, maps);
  if (base.k === 'map_value') mapValueWrite(base, i.dst, i.offset, size, maps);
  else stackWrite(st, base.off + i.offset, base.off, i.offset, size, unknownScalar, i.dst);
  if (imm === 0xf1) st.regs[0] = unknownScalar;
  else if (imm & 1) st.regs[i.src] = unknownScalar;
}

/** Argument kinds of the helper prototypes modelled so far. */
type Arg = 'ctx' | 'map' | 'key' | 'value' | 'scalar' | 'any';
/** HELPERS: prototypes (include/uapi/linux/bpf.h, the *_proto structs): arguments, and whether the packet changes. */
const HELPERS: Readonly<Record<number, { args: readonly Arg[]; changesPkt?: boolean }>> = {
  2: { args: ['map', 'key', 'value', 'scalar'] }, // bpf_map_update_elem
  3: { args: ['map', 'key'] }, // bpf_map_delete_elem
  5: { args: [] }, // bpf_ktime_get_ns
  7: { args: [] }, // bpf_get_prandom_u32
  8: { args: [] }, // bpf_get_smp_processor_id
  12: { args: ['ctx', 'map', 'scalar'] }, // bpf_tail_call
  23: { args: ['scalar', 'scalar'] }, // bpf_redirect
  42: { args: [] }, // bpf_get_numa_node_id
  44: { args: ['ctx', 'scalar'], changesPkt: true }, // bpf_xdp_adjust_head
  54: { args: ['ctx', 'scalar'], changesPkt: true }, // bpf_xdp_adjust_meta
  65: { args: ['ctx', 'scalar'], changesPkt: true }, // bpf_xdp_adjust_tail
  125: { args: [] }, // bpf_ktime_get_boot_ns
};
const EXPECTED: Readonly<Record<Arg, string>> = { ctx: 'ctx', map: 'map_ptr', key: 'fp', value: 'fp', scalar: 'scalar', any: '' };

/**
 * callHelper checks the arguments against the prototype (the kernel's check_func_arg, for the
 * kinds above), then: r0 an unknown scalar, r1-r5 unreadable, and, for helpers that can move
 * the packet, every packet pointer invalid (clear_all_pkt_pointers).
 */
function callHelper(st: FrameState, id: number, maps: readonly MapInfo[]): void {
  const proto = HELPERS[id];
  let map: MapInfo | undefined;
  proto.args.forEach((a, n) => {
    const r = n + 1;
    const v = read(st, r);
    if (a === 'any') return;
    const ok = a === 'ctx' ? v.k === 'ctx' && v.off === 0 : a === 'map' ? v.k === 'map_ptr' : a === 'scalar' ? v.k === 'scalar' : v.k === 'stack';
    if (!ok && (a === 'key' || a === 'value') && v.k !== 'scalar') unsupported(`${a}s not on the stack`);
    if (!ok) refuse(`R${r} type=${kindName(v)} expected=${EXPECTED[a]}`);
    if (a === 'map') map = maps[(v as { map: number }).map];
    if ((a === 'key' || a === 'value') && map) {
      const size = a === 'key' ? map.keySize : map.valueSize;
      const off = (v as { off: number }).off;
      if (off + size > 0) refuse(`invalid read from stack R${r} off=${off} size=${size}`, EINVAL);
      if (off < -STACK_SIZE) refuse(`invalid read from stack R${r} off=${off} size=${size}`);
    }
  });
  for (let r = 1; r <= 5; r++) st.regs[r] = NONE;
  st.regs[0] = unknownScalar;
  if (proto.changesPkt) {
    const gone = (r: Reg): Reg => (r.k === 'pkt' || r.k === 'pkt_end' || r.k === 'pkt_meta' ? unknownScalar : r);
    st.regs.forEach((r, n) => (st.regs[n] = gone(r)));
    st.stack.forEach((slot, n) => {
      if (slot.k === 'spill') st.stack[n] = { k: 'spill', reg: gone(slot.reg) };
    });
  }
}

/**
 * packetLoad: LD_ABS / LD_IND (check_ld_abs): only types that may read the skb this way, with
 * the skb in r6; r0 gets the bytes (unknown), r1-r5 are clobbered.
 */
function packetLoad(st: FrameState, i: Instruction, progType: number): void {
  if (progType !== ProgType.BPF_PROG_TYPE_SOCKET_FILTER && progType !== ProgType.BPF_PROG_TYPE_SCHED_CLS && progType !== ProgType.BPF_PROG_TYPE_SCHED_ACT) {
    refuse('BPF_LD_[ABS|IND] instructions not allowed for this program type', EINVAL);
  }
  const r6 = read(st, 6);
  if (r6.k !== 'ctx') refuse('at the time of BPF_LD_ABS|IND R6 != pointer to skb', EINVAL);
  if ((i.opcode & 0xe0) === Mode.BPF_IND && read(st, i.src).k !== 'scalar') unsupported('LD_IND with a pointer index');
  if ((r6 as { off: number }).off !== 0) refuse(`dereference of modified ctx ptr R6 off=${(r6 as { off: number }).off} disallowed`);
  for (let r = 1; r <= 5; r++) st.regs[r] = NONE;
  st.regs[0] = unknownScalar;
}

/** mapValueWrite: a store into a map value: not into a map programs may only read (check_map_access_type), then inside it. */
function mapValueWrite(base: { map: number; off: number }, r: number, off: number, size: number, maps: readonly MapInfo[]): void {
  const m = maps[base.map];
  if (m.readonlyProg) refuse(`write into map forbidden, value_size=${m.valueSize} off=${base.off + off} size=${size}`);
  mapValueAccess(base, r, off, size, maps);
}
