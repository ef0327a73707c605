import { alu, scalarConst } from './scalar.js';
import type { Reg, VState } from './state.js';

/**
 * Linked scalars (the kernel's collect_linked_regs / sync_linked_regs): a copy of a scalar
 * (`r1 = r2`, a spill, `r1 += const` after one) shares the source's id, with the constant added
 * as `delta` (BPF_ADD_CONST). The registers sharing an id hold the same value up to their deltas,
 * so a comparison's bounds on one hold, shifted, for all of them.
 */

/** LINKED_REGS_MAX: the kernel keeps at most 6 linked registers per jump; the others lose their id. */
export const LINKED_REGS_MAX = 6;

/** LinkedReg: a register (`reg`) or a spilled scalar (`spi`) of call frame `frame`. */
export type LinkedReg = { readonly frame: number; readonly reg: number } | { readonly frame: number; readonly spi: number };

/**
 * LinkedRegs: the scalars a jump linked (struct linked_regs); `regs` (bit n = rN) and `spis` those of
 * the innermost frame, `outer` whether some are in a caller's frame (precision's walk back tells
 * only the innermost frame apart).
 */
export interface LinkedRegs {
  readonly entries: readonly LinkedReg[];
  readonly regs: number;
  readonly spis: readonly number[];
  readonly outer: boolean;
}

const idOf = (r: Reg): number => (r.k === 'scalar' && r.id ? r.id : 0);
const noId = (r: Reg): Reg => (r.k === 'scalar' ? { k: 'scalar', s: r.s, ...(r.precise ? { precise: true } : {}) } : r);

/**
 * linkedRegs: collect_linked_regs for each id in turn (the source's, then the destination's):
 * every scalar register (r0-r9) and spilled scalar with that id, innermost frame first. Past
 * LINKED_REGS_MAX entries a register's id is cleared (in `vs`) instead. Registers of the innermost
 * frame not in `live` (dead at the jump) are left out.
 */
export function linkedRegs(vs: VState, ids: readonly number[], live = 0xffff): LinkedRegs {
  const entries: LinkedReg[] = [];
  const inner = vs.frames.length - 1;
  let regs = 0;
  const spis: number[] = [];
  for (const id of ids) {
    for (let f = inner; f >= 0; f--) {
      const fr = vs.frames[f];
      for (let r = 0; r < 10; r++) {
        if (idOf(fr.regs[r]) !== id || (f === inner && !((live >> r) & 1))) continue;
        if (entries.length >= LINKED_REGS_MAX) fr.regs[r] = noId(fr.regs[r]);
        else {
          entries.push({ frame: f, reg: r });
          if (f === inner) regs |= 1 << r;
        }
      }
      fr.stack.forEach((slot, spi) => {
        if (slot.k !== 'spill' || idOf(slot.reg) !== id) return;
        if (entries.length >= LINKED_REGS_MAX) fr.stack[spi] = { ...slot, reg: noId(slot.reg) };
        else {
          entries.push({ frame: f, spi });
          if (f === inner && !spis.includes(spi)) spis.push(spi);
        }
      });
    }
  }
  return { entries, regs, spis, outer: entries.some((e) => e.frame !== inner) };
}

/**
 * syncLinked: sync_linked_regs: every linked scalar with register `known`'s id (innermost frame)
 * takes its bounds: a copy where the deltas are the same (or neither has one), else the bounds
 * shifted by the difference of the deltas, keeping its own id and delta.
 */
export function syncLinked(vs: VState, links: LinkedRegs, known: number): void {
  const inner = vs.frames.length - 1;
  const k = vs.frames[inner].regs[known];
  if (k.k !== 'scalar' || !k.id) return;
  for (const e of links.entries) {
    const fr = vs.frames[e.frame];
    if ('reg' in e && e.frame === inner && e.reg === known) continue;
    const slot = 'spi' in e ? fr.stack[e.spi] : undefined;
    const r = slot ? (slot.k === 'spill' ? slot.reg : undefined) : fr.regs[(e as { reg: number }).reg];
    if (!r || r.k !== 'scalar' || r.id !== k.id) continue;
    let v: Reg;
    if (r.delta === k.delta) v = k;
    else {
      // reg = known + (reg's delta - known's delta), as __mark_reg_known(fake_reg, delta) and the adds
      const d = BigInt.asUintN(64, BigInt((r.delta ?? 0) - (k.delta ?? 0)));
      v = {
        k: 'scalar',
        s: alu('add', k.s, scalarConst(d), 64),
        id: r.id,
        ...(r.delta !== undefined ? { delta: r.delta } : {}),
        ...(k.precise ? { precise: true } : {}),
      };
    }
    if (slot?.k === 'spill') fr.stack[(e as { spi: number }).spi] = { ...slot, reg: v };
    else fr.regs[(e as { reg: number }).reg] = v;
  }
}
