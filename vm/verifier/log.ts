import { type Scalar, UNKNOWN, isConstScalar } from './scalar.js';
import type { Reg, VState } from './state.js';

/** The kernel prints numbers up to 65535 in decimal, larger ones in hex (verbose_unum / verbose_snum). */
const unum = (v: bigint) => (v <= 0xffffn ? v.toString() : `0x${v.toString(16)}`);
const snum = (v: bigint) => (v >= -0xffffn && v <= 0xffffn ? v.toString() : `0x${BigInt.asUintN(64, v).toString(16)}`);

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
    { name: 'smin32', val: s.s32min, omit: s.s32min === UNKNOWN.s32min, signed: true },
    { name: 'smax32', val: s.s32max, omit: s.s32max === UNKNOWN.s32max, signed: true },
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

const offText = (off: number, v?: Scalar) =>
  [off ? `off=${off}` : '', v && !(isConstScalar(v) && v.var.value === 0n) ? `var=${scalarText(v)}` : ''].filter(Boolean);

/** regText: a register as the kernel's log prints it (`ctx()`, `fp-8`, `pkt(off=14,r=14)`, `map_value(ks=4,vs=16)`). */
export function regText(r: Reg): string {
  switch (r.k) {
    case 'none':
      return '?';
    case 'scalar':
      return scalarText(r.s);
    case 'ctx':
      return `ctx(${offText(r.off).join(',')})`;
    case 'stack':
      return `fp${r.off || r.frame ? r.off : '0'}`;
    case 'pkt':
    case 'pkt_meta':
      return `${r.k}(${[r.id ? `id=${r.id}` : '', ...offText(r.off, r.var), `r=${r.range}`].filter(Boolean).join(',')})`;
    case 'pkt_end':
      return 'pkt_end()';
    case 'map_ptr':
      return `map_ptr(ks=${r.m.keySize},vs=${r.m.valueSize})`;
    case 'map_value':
      return `map_value(${[...offText(r.off, r.var), `ks=${r.m.keySize}`, `vs=${r.m.valueSize}`].join(',')})`;
    case 'map_value_or_null':
    case 'map_ptr_or_null':
      return `map_value_or_null(id=${r.id},${[...offText(r.off), `ks=${r.m.keySize}`, `vs=${r.m.valueSize}`].join(',')})`;
    case 'mem':
      return `ringbuf_mem(${[`ref_obj_id=${r.ref}`, ...offText(r.off, r.var), `sz=${r.size}`].join(',')})`;
    case 'mem_or_null':
      return `ringbuf_mem_or_null(id=${r.id},ref_obj_id=${r.ref},sz=${r.size})`;
    case 'func':
      return `func(pc=${r.target})`;
  }
}

/** stateText: the innermost frame's initialised registers and stack, as `R1=ctx() R10=fp0 fp-8=mmmmmmmm`. */
export function stateText(vs: VState): string {
  const f = vs.frames[vs.frames.length - 1];
  const parts: string[] = [];
  if (vs.frames.length > 1) parts.push(`frame${vs.frames.length - 1}:`);
  f.regs.forEach((r, n) => r.k !== 'none' && parts.push(`R${n}=${regText(r)}`));
  f.stack.forEach((s, n) => {
    if (s.k === 'misc')
      parts.push(`fp${-8 * (n + 1)}=${Array.from({ length: 8 }, (_, b) => ((s.zero >> (7 - b)) & 1 ? '0' : 'm')).join('')}`);
    if (s.k === 'spill') parts.push(`fp${-8 * (n + 1)}=${regText(s.reg)}`);
  });
  return parts.join(' ');
}
