import { type Scalar, UNKNOWN, isConstScalar } from './scalar.js';
import type { MapInfo, Reg, StackSlot, VState } from './state.js';

/**
 * The kernel prints unsigned numbers up to U16_MAX in decimal, signed ones from S16_MIN to
 * S16_MAX, others in hex (verbose_unum / verbose_snum); a group of bounds is printed as its
 * first name's kind: `smax=umax=smax32=umax32=0xff00`, `umax=65280`.
 */
const unum = (v: bigint) => (v <= 0xffffn ? v.toString() : `0x${v.toString(16)}`);
const snum = (v: bigint) => (v >= -0x8000n && v <= 0x7fffn ? v.toString() : `0x${BigInt.asUintN(64, v).toString(16)}`);

const hex32 = (v: bigint) => (v >= -0x8000n && v <= 0x7fffn ? v : BigInt.asUintN(32, v));

/**
 * scalarText: a scalar as the kernel's log prints it (print_scalar_ranges): `0`, `scalar()`,
 * `scalar(smin=umin=umin32=1,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))`: bounds at
 * their defaults left out, equal ones of the same sign named together.
 */
export function scalarText(s: Scalar): string {
  if (isConstScalar(s)) return snum(BigInt.asIntN(64, s.var.value));
  const m = [
    { name: 'smin', val: s.smin, omit: s.smin === UNKNOWN.smin, signed: true },
    { name: 'smax', val: s.smax, omit: s.smax === UNKNOWN.smax, signed: true },
    { name: 'umin', val: s.umin, omit: s.umin === 0n, signed: false },
    { name: 'umax', val: s.umax, omit: s.umax === UNKNOWN.umax, signed: false },
    // 32-bit signed bounds printed in hex are their 32-bit patterns (smin32=0x80000001), not sign-extended
    { name: 'smin32', val: hex32(s.s32min), omit: s.s32min === UNKNOWN.s32min, signed: true },
    { name: 'smax32', val: hex32(s.s32max), omit: s.s32max === UNKNOWN.s32max, signed: true },
    { name: 'umin32', val: s.u32min, omit: s.u32min === 0n, signed: false },
    { name: 'umax32', val: s.u32max, omit: s.u32max === UNKNOWN.u32max, signed: false },
  ];
  const parts: string[] = [];
  m.forEach((a, i) => {
    if (a.omit) return;
    const neg = a.signed && a.val < 0n;
    let names = a.name;
    for (let j = i + 2; j < m.length; j += 2) {
      const b = m[j];
      if (b.omit) continue;
      // the same number: unsigned values compared as the 64-bit patterns the kernel keeps
      const same = BigInt.asUintN(64, a.val) === BigInt.asUintN(64, b.val) && neg === (b.signed && b.val < 0n);
      if (same) ((names += `=${b.name}`), (b.omit = true));
    }
    parts.push(`${names}=${a.signed ? snum(a.val) : unum(a.val)}`);
  });
  if (s.var.mask !== UNKNOWN.var.mask) parts.push(`var_off=(0x${s.var.value.toString(16)}; 0x${s.var.mask.toString(16)})`);
  return `scalar(${parts.join(',')})`;
}

/**
 * ptrText: a pointer as print_reg_state prints it: its kind, then in parentheses its id,
 * ref_obj_id, map, fixed offset, packet range or memory size, and the bounds of its variable
 * part inline (`pkt(id=1,r=0,smin=smin32=0,smax=umax=smax32=umax32=5,var_off=(0x0; 0x7))`).
 */
function ptrText(kind: string, fields: (string | false | undefined)[], v?: Scalar): string {
  const parts = fields.filter((f): f is string => !!f);
  if (v && !isConstScalar(v)) {
    const ranges = scalarText(v).slice('scalar('.length, -1);
    if (ranges) parts.push(ranges);
  } else if (v && v.var.value !== 0n) parts.push(`imm=${snum(BigInt.asIntN(64, v.var.value))}`);
  return `${kind}(${parts.join(',')})`;
}

const mapFields = (m: MapInfo) => [m.name ? `map=${m.name}` : '', `ks=${m.keySize}`, `vs=${m.valueSize}`];
const off = (o: number) => (o ? `off=${o}` : '');

/** idText: a scalar's id first in its fields (`scalar(id=1,smin=...)`, `scalar(id=1+5)`); a constant shows none. */
function idText(r: { s: Scalar; id?: number; delta?: number }, text: string): string {
  if (!r.id || !text.startsWith('scalar(')) return text;
  const id = `id=${r.id}${r.delta === undefined ? '' : r.delta < 0 ? r.delta : `+${r.delta}`}`;
  return text === 'scalar()' ? `scalar(${id})` : `scalar(${id},${text.slice('scalar('.length)}`;
}

/** regText: a register as the kernel's log prints it (`ctx()`, `fp-8`, `pkt(off=14,r=14)`, `map_value(map=m,ks=4,vs=16)`, `P0`). */
export function regText(r: Reg): string {
  switch (r.k) {
    case 'none':
      return '?';
    case 'scalar':
      return `${r.precise ? 'P' : ''}${idText(r, scalarText(r.s))}`;
    case 'ctx':
      return ptrText('ctx', [off(r.off)], r.var);
    case 'stack':
      return `fp${r.off || r.frame ? r.off : '0'}`;
    case 'pkt':
    case 'pkt_meta':
      return ptrText(r.k, [r.id ? `id=${r.id}` : '', off(r.off), `r=${unum(BigInt.asUintN(64, BigInt(r.range)))}`], r.var);
    case 'pkt_end':
      return 'pkt_end()';
    case 'map_ptr':
      return ptrText('map_ptr', mapFields(r.m));
    case 'map_value':
      return ptrText('map_value', [...mapFields(r.m), off(r.off)], r.var);
    case 'map_value_or_null':
    case 'map_ptr_or_null':
      return ptrText(r.k, [`id=${r.id}`, ...mapFields(r.m), off(r.off)]);
    case 'mem':
      if (r.btf) return ptrText(`${r.ref ? '' : 'trusted_'}ptr_${r.btf}`, [r.ref ? `ref_obj_id=${r.ref}` : '', off(r.off)], r.var);
      if (r.plain) return ptrText('mem', [off(r.off), `sz=${r.size}`], r.var);
      if (r.rdonly) return ptrText('rdonly_mem', [off(r.off), `sz=${r.size}`], r.var);
      return ptrText('ringbuf_mem', [`ref_obj_id=${r.ref}`, off(r.off), `sz=${r.size}`], r.var);
    case 'mem_or_null':
      if (r.btf) return ptrText(`ptr_or_null_${r.btf}`, [`id=${r.id}`, r.ref ? `ref_obj_id=${r.ref}` : '', off(r.off)]);
      if (r.plain) return ptrText('mem_or_null', [`id=${r.id}`, off(r.off), `sz=${r.size}`]);
      if (r.rdonly) return ptrText('rdonly_mem_or_null', [`id=${r.id}`, off(r.off), `sz=${r.size}`]);
      return ptrText('ringbuf_mem_or_null', [`id=${r.id}`, `ref_obj_id=${r.ref}`, off(r.off), `sz=${r.size}`]);
    case 'func':
      return 'func()';
    case 'iter':
      return `iter_${r.type}(ref_id=${r.ref},state=${r.state},depth=${r.depth})`;
    case 'dynptr':
      return `dynptr_${r.type}(id=${r.id})`;
  }
}

/** The kernel's slot_type_char: what each byte of a stack slot holds. */
const slotChar = (s: StackSlot, byte: number): string => {
  if (s.k === 'invalid') return '?';
  if (s.k === 'spill') {
    if (byte < s.size) return 'r';
    if (!(((s.above?.valid ?? 0) >> byte) & 1)) return '?';
    return ((s.above?.zero ?? 0) >> byte) & 1 ? '0' : 'm';
  }
  if (!(((s.valid ?? 0xff) >> byte) & 1)) return '?';
  return (s.zero >> byte) & 1 ? '0' : 'm';
};

/**
 * Scratched: the registers and stack slots an instruction touched (the kernel's
 * scratched_regs / scratched_stack_slots); null prints everything.
 */
export interface Scratched {
  regs: number;
  slots: bigint;
}

/**
 * stateText: the innermost frame's registers and stack as print_verifier_state prints them
 * (`R1=ctx() R10=fp0 fp-8=mmmm????`), all of them or (`only`) those scratched; then the
 * references held (`refs=2`).
 */
export function stateText(vs: VState, only?: Scratched): string {
  const f = vs.frames[vs.frames.length - 1];
  const parts: string[] = [];
  if (vs.frames.length > 1) parts.push(`frame${vs.frames.length - 1}:`);
  f.regs.forEach((r, n) => r.k !== 'none' && (!only || (only.regs >> n) & 1) && parts.push(`R${n}=${regText(r)}`));
  f.stack.forEach((s, n) => {
    if (s.k === 'invalid' || (only && !((only.slots >> BigInt(n)) & 1n))) return;
    // printed from the slot's highest byte down, as slot_type[] is kept
    const types = Array.from({ length: 8 }, (_, j) => slotChar(s, 7 - j)).join('');
    if (types === '????????') return;
    // a spill narrower than the slot: the bytes above it, then the register (`fp-16=????0`)
    const spilled = s.k === 'spill' ? `${types.slice(0, 8 - s.size)}${regText(s.reg)}` : types;
    parts.push(`fp${-8 * (n + 1)}=${spilled}`);
  });
  if (vs.refs.size) parts.push(`refs=${[...vs.refs.keys()].join(',')}`);
  if (f.callback) parts.push('cb');
  return parts.join(' ');
}
