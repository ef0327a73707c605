import type { SlotMap } from '../cfg.js';
import { CALLBACK_TAG } from '../helpers.js';
import { BPF_MAX_LOOPS, LDDW, MAX_BPF_STACK, Pseudo } from '../opcodes.js';
import { G, REG } from './layout.js';
import { type Code, Op } from './wasm.js';

/** BPF_FUNC_loop: the helper id of bpf_loop. */
export const BPF_FUNC_loop = 181;

/**
 * callbackTargets: the first slots of the functions the program takes the address of
 * (`lddw rN, BPF_PSEUDO_FUNC`): the only values a callback argument can hold in a verified program.
 */
export function callbackTargets(map: SlotMap): number[] {
  const out = new Set<number>();
  for (let s = 0; s < map.length; s++) {
    const i = map.at[s];
    if (i && i.opcode === LDDW && i.src === Pseudo.BPF_PSEUDO_FUNC) out.add(s + 1 + Number(BigInt.asIntN(32, i.imm)));
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * inlineBpfLoop: bpf_loop(nr, fn, ctx, flags) run in WebAssembly when `fn` is one of the
 * program's own functions: for i = 0 .. nr - 1 the callback is called as a bpf-to-bpf call
 * would be, `fn(i, ctx)` in the frame below the caller's (r10 - MAX_BPF_STACK), until it
 * returns non-zero (r0 = i + 1) or the count is done (r0 = nr), as the kernel's bpf_loop
 * (kernel/bpf/bpf_iter.c) does. Flags other than 0, a count past BPF_MAX_LOOPS or a
 * callback the program does not name go to `generic` (the helper import, which answers
 * -EINVAL, -E2BIG or the error). r1-r5 are the loop's scratch (a helper call clobbers them:
 * the verifier lets nothing read them after it): r4 the index, r5 the callback's result.
 * Only for verified programs (unchecked ones count frames and fuel through the import).
 */
export function inlineBpfLoop(c: Code, targets: readonly number[], fnIndex: ReadonlyMap<number, number>, generic: () => void): void {
  const known = targets.filter((t) => fnIndex.has(t));
  // block $done (r0 set) / block $slow (the helper import)
  c.op(Op.block, 0x40, Op.block, 0x40);
  c.get(REG[4]).op(Op.i64_eqz, Op.i32_eqz, Op.br_if).u(0);
  c.get(REG[1]).i64(BigInt(BPF_MAX_LOOPS)).op(Op.i64_gt_u, Op.br_if).u(0);
  for (const t of known) {
    // if fn == this callback (inside: $slow 1, $done 2)
    c.get(REG[2])
      .i64(BigInt(CALLBACK_TAG + t))
      .op(Op.i64_eq, Op.if, 0x40);
    c.i64(0n).set(REG[4]);
    // loop $next (inside: if 1, $slow 2, $done 3)
    c.op(Op.loop, 0x40);
    c.get(REG[4]).get(REG[1]).op(Op.i64_ge_u, Op.if, 0x40).get(REG[1]).set(REG[0]).op(Op.br).u(4).op(Op.end);
    c.get(REG[4]).get(REG[3]).i64(0n).i64(0n).i64(0n);
    c.get(REG[10]).i64(BigInt(MAX_BPF_STACK)).op(Op.i64_sub);
    c.op(Op.call).u(fnIndex.get(t)!).set(REG[5]);
    // the caller's frame pointer again; a packet load that ended the program ends it here too
    c.get(REG[10]).op(Op.i32_wrap_i64, Op.global_set).u(G.sp);
    c.op(Op.global_get).u(G.stop).op(Op.if, 0x40).i64(0n).op(Op.return, Op.end);
    c.get(REG[4]).i64(1n).op(Op.i64_add).set(REG[4]);
    c.get(REG[5]).op(Op.i64_eqz, Op.i32_eqz, Op.if, 0x40).get(REG[4]).set(REG[0]).op(Op.br).u(4).op(Op.end);
    c.op(Op.br).u(0);
    c.op(Op.end, Op.end);
  }
  c.op(Op.end);
  generic();
  c.op(Op.end);
}
