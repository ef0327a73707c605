import { ctxAccessOk } from '../../hooks/ctxAccess.js';
import { ProgType } from '../../hooks/progType.js';
import { SkBuff } from '../../hooks/skb.js';
import { XdpMd } from '../../hooks/xdp.js';
import { EACCES, EINVAL, MAX_VAR_OFF, refuse, unsupported } from './refuse.js';
import type { Scalar } from './scalar.js';
import { type MapInfo, type Reg, STACK_SIZE, type VState, ZERO, unknownScalar } from './state.js';

/** Env: what every check needs besides the state: the program type, its maps, and what the walk records. */
export interface Env {
  readonly progType: number;
  readonly maps: readonly MapInfo[];
  /** Deepest stack byte each function touches (by its first slot), for check_max_stack_depth. */
  readonly stackDepth: Map<number, number>;
  /** A fresh id for lookup results, packet pointers with a variable part and references. */
  nextId(): number;
}

/** Context fields that hold packet pointers: data, data_end, data_meta. */
const PACKET_FIELDS: Readonly<Record<number, readonly number[]>> = {
  [ProgType.BPF_PROG_TYPE_XDP]: [XdpMd.data, XdpMd.data_end, XdpMd.data_meta],
  [ProgType.BPF_PROG_TYPE_SCHED_CLS]: [SkBuff.data, SkBuff.data_end, SkBuff.data_meta],
  [ProgType.BPF_PROG_TYPE_SCHED_ACT]: [SkBuff.data, SkBuff.data_end, SkBuff.data_meta],
};

function ctxAccess(base: { off: number }, r: number, off: number, size: number, write: boolean, env: Env): Reg {
  if (base.off !== 0) refuse(`dereference of modified ctx ptr R${r} off=${base.off} disallowed`);
  const ok = ctxAccessOk(env.progType, off, size, write);
  if (ok === undefined) return unsupported(`the context of program type ${env.progType}`);
  if (!ok) refuse(`invalid bpf_context access off=${off} size=${size}`);
  const fields = PACKET_FIELDS[env.progType];
  if (!write && fields) {
    const id = 0;
    if (off === fields[0]) return { k: 'pkt', off: 0, range: 0, id, var: ZERO };
    if (off === fields[1]) return { k: 'pkt_end', off: 0 };
    if (off === fields[2]) return { k: 'pkt_meta', off: 0, range: 0, id, var: ZERO };
  }
  return unknownScalar;
}

/** load: what `size` bytes at `off` from the pointer in `r` read as (check_mem_access, BPF_READ). */
export function load(vs: VState, base: Reg, r: number, off: number, size: number, env: Env): Reg {
  switch (base.k) {
    case 'scalar': return refuse(`R${r} invalid mem access 'scalar'`);
    case 'ctx': return ctxAccess(base, r, off, size, false, env);
    case 'stack': return stackRead(vs, base, r, off, size, env);
    case 'pkt':
    case 'pkt_meta': return packetAccess(base, r, off, size, false, env), unknownScalar;
    case 'map_value': return regionAccess(base, r, off, size, base.m.valueSize), unknownScalar;
    case 'mem': return regionAccess(base, r, off, size, base.size), unknownScalar;
    case 'map_ptr': return unsupported('loads of struct bpf_map fields through a map pointer');
    default: return refuse(`R${r} invalid mem access '${kindNameOf(base)}'`);
  }
}

/** store: a write of `size` bytes of `value` at `off` from the pointer in `r` (check_mem_access, BPF_WRITE). */
export function store(vs: VState, base: Reg, r: number, off: number, size: number, value: Reg, env: Env): void {
  switch (base.k) {
    case 'scalar': return void refuse(`R${r} invalid mem access 'scalar'`);
    case 'ctx': return void ctxAccess(base, r, off, size, true, env);
    case 'stack': return stackWrite(vs, base, r, off, size, value, env);
    case 'pkt':
    case 'pkt_meta': return packetAccess(base, r, off, size, true, env);
    case 'map_value': return mapValueWrite(base, r, off, size);
    case 'mem': return regionAccess(base, r, off, size, base.size);
    case 'map_ptr': return void refuse(`R${r} invalid mem access 'map_ptr'`);
    default: return void refuse(`R${r} invalid mem access '${kindNameOf(base)}'`);
  }
}

const kindNameOf = (r: Reg) => (r.k === 'map_ptr_or_null' ? 'map_value_or_null' : r.k === 'mem_or_null' ? 'ringbuf_mem_or_null' : r.k);

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
  if (size === 8) {
    stack[i] = { k: 'spill', reg: value };
    return;
  }
  stack[i] = { k: 'misc' };
}

function stackRead(vs: VState, base: { off: number; frame: number }, r: number, off: number, size: number, env: Env): Reg {
  const total = base.off + off;
  stackBounds(total, base.off, off, size, r, 'read from');
  touch(env, vs, base.frame, total);
  const slot = vs.frames[base.frame].stack[(-total - 1) >> 3];
  if (slot.k === 'spill') {
    if (size === 8) return slot.reg;
    if (slot.reg.k !== 'scalar') refuse('invalid size of register fill');
  }
  // privileged: an uninitialised or partly written slot reads as an unknown scalar
  return unknownScalar;
}

/**
 * packetAccess: `size` bytes at `off` from a packet pointer must lie in the range a comparison
 * with data_end proved (check_packet_access; the log's last line is the second message).
 */
function packetAccess(base: { off: number; range: number; var: Scalar }, r: number, off: number, size: number, write: boolean, env: Env): void {
  if (write && env.progType === ProgType.BPF_PROG_TYPE_SOCKET_FILTER) refuse('cannot write into packet');
  if (base.var.smin < 0n) refuse(`R${r} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  const at = base.off + off;
  if (at < 0 || at + size > base.range) refuse(`R${r} offset is outside of the packet`);
}

/**
 * regionAccess: inside a map value or ring buffer record of `limit` bytes, for every value
 * the variable part may take (check_mem_region_access; the log's last line names the register).
 */
export function regionAccess(base: { off: number; var: Scalar }, r: number, off: number, size: number, limit: number): void {
  const at = BigInt(base.off + off);
  const { smin, umax } = base.var;
  if (smin < 0n && (smin + at < 0n)) refuse(`R${r} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  if (smin + at < 0n || smin + at + BigInt(size) > BigInt(limit)) refuse(`R${r} min value is outside of the allowed memory range`);
  if (umax >= MAX_VAR_OFF) refuse(`R${r} unbounded memory access, make sure to bounds check any such access`);
  if (umax + at + BigInt(size) > BigInt(limit)) refuse(`R${r} max value is outside of the allowed memory range`);
}

/** mapValueWrite: a store into a map value: not into a map programs may only read (check_map_access_type), then inside it. */
export function mapValueWrite(base: { m: MapInfo; off: number; var: Scalar }, r: number, off: number, size: number): void {
  if (base.m.readonlyProg) refuse(`write into map forbidden, value_size=${base.m.valueSize} off=${base.off + off} size=${size}`);
  regionAccess(base, r, off, size, base.m.valueSize);
}

/**
 * helperMemory: a helper reads (or, `raw`, writes) `size` bytes at the pointer in `r`
 * (check_helper_mem_access): stack, packet, map value or ring buffer memory, for every size
 * the size register may hold.
 */
export function helperMemory(vs: VState, p: Reg, r: number, size: Scalar, raw: boolean, env: Env): void {
  const n = Number(size.umax);
  if (size.umax === 0n) return;
  switch (p.k) {
    case 'stack': {
      const lo = p.off;
      if (lo + n > 0) refuse(`invalid ${raw ? 'write to' : 'read from'} stack R${r} off=${lo} size=${n}`, EINVAL);
      if (lo < -STACK_SIZE) refuse(`invalid ${raw ? 'write to' : 'read from'} stack R${r} off=${lo} size=${n}`);
      touch(env, vs, p.frame, lo);
      // a helper's write initialises the bytes; privileged reads of uninitialised bytes are allowed
      if (raw) {
        const stack = vs.frames[p.frame].stack;
        for (let b = lo; b < lo + n; b++) {
          const i = (-b - 1) >> 3;
          if (stack[i].k !== 'misc') stack[i] = { k: 'misc' };
        }
      }
      return;
    }
    case 'pkt':
    case 'pkt_meta': return packetAccess(p, r, 0, n, raw, env);
    case 'map_value': return raw ? mapValueWrite(p, r, 0, n) : regionAccess(p, r, 0, n, p.m.valueSize);
    case 'mem': return regionAccess(p, r, 0, n, p.size);
    case 'ctx': return void refuse(`R${r} type=ctx expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_`, EACCES);
    default: return void refuse(`R${r} type=${kindNameOf(p)} expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_`, EACCES);
  }
}
