import { type Scalar, UNKNOWN, isConstScalar } from './scalar.js';
import type { Reg, VState } from './state.js';

/** scalarText: a scalar as the kernel's log prints it: `0`, `scalar()`, `scalar(umax=255,var_off=(0x0; 0xff))`. */
export function scalarText(s: Scalar): string {
  if (isConstScalar(s)) return BigInt.asIntN(64, s.var.value).toString();
  const parts: string[] = [];
  if (s.smin !== UNKNOWN.smin) parts.push(`smin=${s.smin}`);
  if (s.smax !== UNKNOWN.smax) parts.push(`smax=${s.smax}`);
  if (s.umin !== UNKNOWN.umin) parts.push(`umin=${s.umin}`);
  if (s.umax !== UNKNOWN.umax) parts.push(`umax=${s.umax}`);
  if (s.s32min !== UNKNOWN.s32min) parts.push(`smin32=${s.s32min}`);
  if (s.s32max !== UNKNOWN.s32max) parts.push(`smax32=${s.s32max}`);
  if (s.u32min !== UNKNOWN.u32min) parts.push(`umin32=${s.u32min}`);
  if (s.u32max !== UNKNOWN.u32max) parts.push(`umax32=${s.u32max}`);
  if (s.var.mask !== UNKNOWN.var.mask) parts.push(`var_off=(0x${s.var.value.toString(16)}; 0x${s.var.mask.toString(16)})`);
  return `scalar(${parts.join(',')})`;
}

const offText = (off: number, v?: Scalar) => [off ? `off=${off}` : '', v && !(isConstScalar(v) && v.var.value === 0n) ? `var=${scalarText(v)}` : ''].filter(Boolean);

/** regText: a register as the kernel's log prints it (`ctx()`, `fp-8`, `pkt(off=14,r=14)`, `map_value(ks=4,vs=16)`). */
export function regText(r: Reg): string {
  switch (r.k) {
    case 'none': return '?';
    case 'scalar': return scalarText(r.s);
    case 'ctx': return `ctx(${offText(r.off).join(',')})`;
    case 'stack': return `fp${r.off || r.frame ? r.off : '0'}`;
    case 'pkt':
    case 'pkt_meta': return `${r.k}(${[r.id ? `id=${r.id}` : '', ...offText(r.off, r.var), `r=${r.range}`].filter(Boolean).join(',')})`;
    case 'pkt_end': return 'pkt_end()';
    case 'map_ptr': return `map_ptr(ks=${r.m.keySize},vs=${r.m.valueSize})`;
    case 'map_value': return `map_value(${[...offText(r.off, r.var), `ks=${r.m.keySize}`, `vs=${r.m.valueSize}`].join(',')})`;
    case 'map_value_or_null':
    case 'map_ptr_or_null': return `map_value_or_null(id=${r.id},${[...offText(r.off), `ks=${r.m.keySize}`, `vs=${r.m.valueSize}`].join(',')})`;
    case 'mem': return `ringbuf_mem(${[`ref_obj_id=${r.ref}`, ...offText(r.off, r.var), `sz=${r.size}`].join(',')})`;
    case 'mem_or_null': return `ringbuf_mem_or_null(id=${r.id},ref_obj_id=${r.ref},sz=${r.size})`;
    case 'func': return `func(pc=${r.target})`;
  }
}

/** stateText: the innermost frame's initialised registers and stack, as `R1=ctx() R10=fp0 fp-8=mmmmmmmm`. */
export function stateText(vs: VState): string {
  const f = vs.frames[vs.frames.length - 1];
  const parts: string[] = [];
  if (vs.frames.length > 1) parts.push(`frame${vs.frames.length - 1}:`);
  f.regs.forEach((r, n) => r.k !== 'none' && parts.push(`R${n}=${regText(r)}`));
  f.stack.forEach((s, n) => {
    if (s.k === 'misc') parts.push(`fp${-8 * (n + 1)}=${Array.from({ length: 8 }, (_, b) => ((s.zero >> (7 - b)) & 1 ? '0' : 'm')).join('')}`);
    if (s.k === 'spill') parts.push(`fp${-8 * (n + 1)}=${regText(s.reg)}`);
  });
  return parts.join(' ');
}
