import type { ArrayLayout, DescriptorLayout, LpmLayout } from '../engine.js';
import { MAX_TAIL_CALL_CNT } from '../opcodes.js';
import { Fn, G, REG, Stop, T32 } from './layout.js';
import { type Code, I64, Op } from './wasm.js';

/**
 * inline: what the JIT writes in place of a helper call when it knows how the kernel object
 * is laid out (map lookups) or can resolve the call itself (tail calls). Each leaves r0 (or the
 * tail call's target) as the helper would.
 */

/** inlineArrayLookup: bpf_map_lookup_elem on an array map: the key at r2 in bounds gives its value's address, else NULL. */
export function inlineArrayLookup(c: Code, l: ArrayLayout): void {
  c.get(REG[2]).op(Op.i32_wrap_i64).mem(Op.i32_load, 2).tee(T32).i32(l.maxEntries).op(Op.i32_lt_u, Op.if, I64);
  c.get(T32)
    .i32(l.stride)
    .op(Op.i32_mul)
    .i32(l.storage + l.offset)
    .op(Op.i32_add, Op.i64_extend_i32_u);
  c.op(Op.else).i64(0n).op(Op.end).set(REG[0]);
}

/**
 * inlineLpmLookup: bpf_map_lookup_elem on an LPM trie of at most 32-bit keys, walked as
 * LpmTrie's lookup32 does: down from the root while the node's prefix is matched in full,
 * remembering the last real (not intermediate) node; a node matching the whole data is the
 * answer at once.
 */
export function inlineLpmLookup(c: Code, l: LpmLayout): void {
  const [keyWord, keyPlen, n, at, plen, m, found] = [T32, T32 + 1, T32 + 2, T32 + 3, T32 + 4, T32 + 5, T32 + 6];
  const max = 8 * l.dataSize;
  c.get(REG[2]).op(Op.i32_wrap_i64).tee(at).mem(Op.i32_load, 2).set(keyPlen);
  if (l.dataSize === 4) c.get(at).mem(Op.i32_load, 2, 4).op(Op.call).u(Fn.bswap32).set(keyWord);
  else {
    // the data bytes first (big-endian), zeros after
    c.i32(0);
    for (let b = 0; b < 4; b++) {
      c.i32(8).op(Op.i32_shl);
      if (b < l.dataSize)
        c.get(at)
          .mem(Op.i32_load8_u, 0, 4 + b)
          .op(Op.i32_or);
    }
    c.set(keyWord);
  }
  c.i32(0).set(found).i32(l.root).mem(Op.i32_load, 2).set(n);
  c.op(Op.block, 0x40, Op.loop, 0x40);
  c.get(n).op(Op.i32_eqz, Op.br_if).u(1);
  c.get(n).i32(1).op(Op.i32_sub).i32(l.nodeSize).op(Op.i32_mul).i32(l.nodes).op(Op.i32_add).tee(at).mem(Op.i32_load, 2, 8).set(plen);
  // shared leading bits, at most both prefixes
  c.get(at).mem(Op.i32_load, 2, 16).get(keyWord).op(Op.i32_xor, Op.i32_clz).set(m);
  c.get(m).get(plen).op(Op.i32_gt_u, Op.if, 0x40).get(plen).set(m).op(Op.end);
  c.get(m).get(keyPlen).op(Op.i32_gt_u, Op.if, 0x40).get(keyPlen).set(m).op(Op.end);
  c.get(m).i32(max).op(Op.i32_eq, Op.if, 0x40).get(at).set(found).op(Op.br).u(2).op(Op.end);
  c.get(m).get(plen).op(Op.i32_lt_u, Op.br_if).u(1);
  c.get(at).mem(Op.i32_load, 2, 12).i32(1).op(Op.i32_and, Op.i32_eqz, Op.if, 0x40).get(at).set(found).op(Op.end);
  // the child the key's next bit picks
  c.get(at)
    .get(keyWord)
    .i32(31)
    .get(plen)
    .op(Op.i32_sub, Op.i32_shr_u)
    .i32(1)
    .op(Op.i32_and)
    .i32(2)
    .op(Op.i32_shl, Op.i32_add)
    .mem(Op.i32_load, 2)
    .set(n);
  c.op(Op.br).u(0).op(Op.end, Op.end);
  c.get(found).op(Op.if, I64).get(found).i32(l.valOff).op(Op.i32_add, Op.i64_extend_i32_u).op(Op.else).i64(0n).op(Op.end).set(REG[0]);
}

/**
 * inlineDynamicLookup: bpf_map_lookup_elem on a map known only at run time: by the type in
 * its descriptor, an ARRAY's value or an ARRAY_OF_MAPS' inner map in a few loads; any other
 * map through `slow` (the helper).
 */
export function inlineDynamicLookup(c: Code, l: DescriptorLayout, slow: () => void): void {
  const [d, t, i, slot] = [T32, T32 + 1, T32 + 2, T32 + 3];
  c.get(REG[1]).op(Op.i32_wrap_i64).tee(d).mem(Op.i32_load, 2, l.type).set(t);
  c.get(REG[2]).op(Op.i32_wrap_i64).mem(Op.i32_load, 2).set(i);
  c.get(t).i32(l.array).op(Op.i32_eq, Op.if, 0x40);
  {
    c.get(i).get(d).mem(Op.i32_load, 2, l.maxEntries).op(Op.i32_lt_u, Op.if, I64);
    c.get(d).mem(Op.i32_load, 2, l.storage).get(i).get(d).mem(Op.i32_load, 2, l.stride).op(Op.i32_mul, Op.i32_add, Op.i64_extend_i32_u);
    c.op(Op.else).i64(0n).op(Op.end).set(REG[0]);
  }
  c.op(Op.else).get(t).i32(l.arrayOfMaps).op(Op.i32_eq, Op.if, 0x40);
  {
    c.i64(0n).set(REG[0]);
    c.get(i).get(d).mem(Op.i32_load, 2, l.maxEntries).op(Op.i32_lt_u, Op.if, 0x40);
    slotAddress(c, l, d, i).tee(slot);
    c.mem(Op.i32_load, 2).op(Op.if, 0x40).get(slot).mem(Op.i32_load, 2, 8).op(Op.i64_extend_i32_u).set(REG[0]).op(Op.end);
    c.op(Op.end);
  }
  c.op(Op.else);
  slow();
  c.op(Op.end, Op.end);
}

/**
 * inlineTailCall: a tail call resolved in WebAssembly when it can be: under the count limit,
 * the index in the prog array's range, the slot holding a program compiled on this machine
 * (its id's word in `tails`): then the target's index goes to `target` and the function
 * returns (chain32 runs it). An index out of range or an empty slot is a tail call that
 * fails: the program goes on (a branch out of the block call() opened around this and the
 * import). Anything else (a program not compiled here yet, the count at its limit) falls
 * through to the `tail` import.
 */
export function inlineTailCall(c: Code, tails: { readonly base: number; readonly limit: number }, l: DescriptorLayout): void {
  const [d, i, slot, id] = [T32, T32 + 1, T32 + 2, T32 + 3];
  c.op(Op.block, 0x40);
  c.op(Op.global_get).u(G.chain).i32(MAX_TAIL_CALL_CNT).op(Op.i32_ge_u, Op.br_if).u(0);
  c.get(REG[2]).op(Op.i32_wrap_i64).set(d).get(REG[3]).op(Op.i32_wrap_i64).set(i);
  c.op(Op.block, 0x40);
  // out of range or empty: the tail call fails and the program goes on
  c.get(i).get(d).mem(Op.i32_load, 2, l.maxEntries).op(Op.i32_ge_u, Op.br_if).u(0);
  slotAddress(c, l, d, i).tee(slot);
  c.mem(Op.i32_load, 2).op(Op.i32_eqz, Op.br_if).u(0);
  c.get(slot).mem(Op.i32_load, 2, 8).tee(id).i32(tails.limit).op(Op.i32_ge_u, Op.br_if).u(1);
  c.get(id).i32(2).op(Op.i32_shl).mem(Op.i32_load, 2, tails.base).tee(id).op(Op.i32_eqz, Op.br_if).u(1);
  c.get(id).i32(1).op(Op.i32_sub).op(Op.global_set).u(G.target).i32(Stop.TAIL_WASM).op(Op.global_set).u(G.stop).i64(0n).op(Op.return);
  c.op(Op.end);
  // the tail call failed: skip the import
  c.op(Op.br).u(1);
  c.op(Op.end);
}

/** slotAddress pushes where slot i of the SlotArray whose descriptor is in local `d` lies: 8 bytes (present), then the value rounded to 8, each. */
function slotAddress(c: Code, l: DescriptorLayout, d: number, i: number): Code {
  return c
    .get(d)
    .mem(Op.i32_load, 2, l.storage)
    .get(i)
    .get(d)
    .mem(Op.i32_load, 2, l.valueSize)
    .i32(7)
    .op(Op.i32_add)
    .i32(-8)
    .op(Op.i32_and)
    .i32(8)
    .op(Op.i32_add, Op.i32_mul, Op.i32_add);
}
