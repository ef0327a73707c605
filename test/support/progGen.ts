import { ProgType } from '../../uapi/progType.js';
import { xorshift32 } from '../../pcaps/synth.js';
import { assemble } from '../../vm/asm/assembler.js';
import type { Instruction } from '../../vm/instruction.js';

/** GenMaps: the fds of the maps generated programs use: an array (key 4, value 16, 4 entries) and a hash (key 8, value 8). */
export interface GenMaps {
  readonly array: number;
  readonly hash: number;
}

/** Generated: a random well-formed program (it assembles; it may or may not be safe). */
export interface Generated {
  readonly type: number;
  readonly text: string;
  readonly insns: Instruction[];
}

/**
 * generate writes a random program near the verifier's edges: ALU on scalars, stack and
 * context accesses at offsets around the limits, packet accesses behind (or without) a check
 * against data_end, map lookups with (mostly) a NULL check and value accesses around the
 * value's end, variable offsets bounded by masks, forward branches, small bounded loops,
 * helper calls and atomics. Most are safe and some are not; registers r6 (the context),
 * r7/r8 (data, data_end in XDP) are kept by the prologue.
 */
export function generate(seed: number, maps: GenMaps): Generated {
  const rnd = xorshift32(seed * 2654435761 + 1);
  const pick = <T>(xs: readonly T[]): T => xs[rnd() % xs.length];
  const chance = (p: number) => rnd() / 2 ** 32 < p;
  const xdp = chance(0.7);
  const lines: string[] = ['r6 = r1'];
  if (xdp) lines.push('r7 = *(u32 *)(r6 +0)', 'r8 = *(u32 *)(r6 +4)');
  const scratch = ['r0', 'r2', 'r3', 'r4', 'r5', 'r9'];
  for (const r of scratch) if (chance(0.8)) lines.push(`${r} = ${rnd() % 100}`);
  let labels = 0;
  const pending: { at: number; name: string }[] = [];
  const sizes = ['u8', 'u16', 'u32', 'u64'] as const;
  const bytes = { u8: 1, u16: 2, u32: 4, u64: 8 } as const;
  const snippets = 4 + (rnd() % 24);
  for (let n = 0; n < snippets; n++) {
    // labels of earlier forward jumps land here
    for (const p of pending.filter((x) => x.at === n)) lines.push(`${p.name}:`);
    const a = pick(scratch);
    const b = pick(scratch);
    const w = pick(sizes);
    switch (rnd() % 12) {
      case 0:
      case 1: {
        const op = pick(['+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '<<=', '>>=', 's>>=']);
        const shift = op.includes('<') || op.includes('>');
        const k = shift ? (chance(0.9) ? rnd() % 64 : rnd() % 70) : chance(0.5) ? rnd() % 256 : rnd() | 0;
        const reg = chance(0.5) && !shift;
        const w32 = chance(0.3);
        const name = (r: string) => (w32 ? r.replace('r', 'w') : r);
        lines.push(`${name(a)} ${op} ${reg ? name(b) : k}`);
        break;
      }
      case 2: {
        // stack store, mostly aligned inside the frame
        const size = bytes[w];
        const off = chance(0.93) ? -size * (1 + (rnd() % (512 / size))) : -(rnd() % 530) + 8;
        lines.push(
          chance(0.5)
            ? `*(${w} *)(r10 ${off >= 0 ? '+' : ''}${off}) = ${a}`
            : `*(${w} *)(r10 ${off >= 0 ? '+' : ''}${off}) = ${rnd() % 1000}`,
        );
        break;
      }
      case 3: {
        const size = bytes[w];
        const off = chance(0.93) ? -size * (1 + (rnd() % (64 / size))) : -(rnd() % 530) + 8;
        lines.push(`${a} = *(${w} *)(r10 ${off >= 0 ? '+' : ''}${off})`);
        break;
      }
      case 4: {
        // context field: mostly ones the type has
        const off = chance(0.92) ? (xdp ? pick([0, 4, 8, 12, 16]) : pick([0, 4, 8, 16, 48, 52])) : 4 * (rnd() % 50);
        lines.push(`${a} = *(u32 *)(r6 +${off})`);
        break;
      }
      case 5:
      case 6: {
        if (!xdp) {
          lines.push(
            `r0 = *(u8 *)skb[${rnd() % 80}]`,
            ...['r2', 'r3', 'r4', 'r5'].filter(() => chance(0.95)).map((r) => `${r} = ${rnd() % 9}`),
          );
          break;
        }
        // a packet access behind a check of `need` bytes (sometimes none, sometimes too short)
        const need = bytes[w] + (rnd() % 60);
        const at = Math.max(0, need - bytes[w] - (rnd() % 4) + (chance(0.9) ? 0 : (rnd() % 5) - 1));
        const skip = `L${labels++}`;
        if (chance(0.95)) lines.push('r2 = r7', `r2 += ${need}`, `if r2 > r8 goto ${skip}`);
        lines.push(chance(0.7) ? `${a} = *(${w} *)(r7 +${at})` : `*(${w} *)(r7 +${at}) = ${rnd() % 256}`, `${skip}:`);
        if (a === 'r2') lines.push('r2 = 0');
        break;
      }
      case 7: {
        if (!xdp) break;
        // a variable offset into the packet, bounded by a mask, checked again
        const mask = pick([3, 7, 15, 31, 255]);
        const skip = `L${labels++}`;
        const sz = pick(['u8', 'u16', 'u32'] as const);
        const at = rnd() % 4;
        const proven = at + bytes[sz] - (chance(0.85) ? 0 : 1);
        lines.push(
          'r2 = r7',
          'r2 += 1',
          `if r2 > r8 goto ${skip}`,
          'r3 = *(u8 *)(r7 +0)',
          `r3 &= ${mask}`,
          'r2 = r7',
          'r2 += r3',
          'r4 = r2',
          `r4 += ${proven}`,
          `if r4 > r8 goto ${skip}`,
          `r5 = *(${sz} *)(r2 +${at})`,
          `${skip}:`,
          'r2 = 0',
          'r3 = 0',
          'r4 = 0',
          'r5 = 0',
        );
        break;
      }
      case 8:
      case 9: {
        // a map lookup, a NULL check (mostly), a value access near the end of the value
        const hash = chance(0.5);
        const vs = hash ? 8 : 16;
        const skip = `L${labels++}`;
        lines.push(
          hash ? `*(u64 *)(r10 -8) = ${rnd() % 20}` : `*(u32 *)(r10 -8) = ${rnd() % 6}`,
          'r2 = r10',
          'r2 += -8',
          `r1 = map[fd:${hash ? maps.hash : maps.array}] ll`,
          'call 1',
        );
        if (chance(0.9)) lines.push(`if r0 == 0x0 goto ${skip}`);
        const size = bytes[w];
        const mask = chance(0.3) ? pick([1, 3, 7]) : 0;
        const room = vs - size - mask;
        const off = chance(0.9) && room >= 0 ? rnd() % (room + 1) : Math.max(0, room) + 1 + (rnd() % 4);
        if (mask) lines.push('r3 = *(u8 *)(r0 +0)', `r3 &= ${mask}`, 'r0 += r3');
        else if (chance(0.35)) {
          // two constants meet at a join, then one moves the pointer: only precision keeps the paths apart
          const ja = `P${labels++}`;
          const jb = `P${labels++}`;
          const spill = chance(0.5);
          // on the packet's length, which the verifier does not know and the three test packets vary
          // (or the constants wait in a stack slot across the join)
          const keep = spill ? ['*(u64 *)(r10 -32) = r3', 'r3 = 0'] : [];
          lines.push(
            ...(xdp ? ['r4 = r8', 'r4 -= r7'] : ['r4 = *(u32 *)(r6 +0)']),
            `if r4 > ${20 + (rnd() % 100)} goto ${ja}`,
            `r3 = ${rnd() % (vs - size + 1)}`,
            ...keep,
            `goto ${jb}`,
            `${ja}:`,
            `r3 = ${rnd() % (vs + 4)}`,
            ...keep,
            `${jb}:`,
          );
          if (spill) lines.push('r3 = *(u64 *)(r10 -32)');
          lines.push('r0 += r3');
        }
        lines.push(
          chance(0.5)
            ? `r1 = *(${w} *)(r0 +${off})`
            : chance(0.5)
              ? `*(${w} *)(r0 +${off}) = 1`
              : size >= 4
                ? `r1 = 1\nlock *(${size === 8 ? 'u64' : 'u32'} *)(r0 +${off - (off % size)}) += r1`
                : `r1 = *(u8 *)(r0 +${off})`,
        );
        lines.push(`${skip}:`);
        for (const r of ['r0', 'r1', 'r2', 'r3', 'r4', 'r5']) if (chance(0.97)) lines.push(`${r} = ${rnd() % 50}`);
        break;
      }
      case 10: {
        // a forward branch over the next few snippets
        const name = `J${labels++}`;
        pending.push({ at: n + 1 + (rnd() % 3), name });
        lines.push(`if ${a} ${pick(['>', '<', '==', '!=', 's>', 's<', '&'])} ${chance(0.5) ? rnd() % 100 : b} goto ${name}`);
        break;
      }
      case 11: {
        if (chance(0.5)) {
          // a small bounded loop writing the stack
          const top = `T${labels++}`;
          lines.push(
            'r9 = 0',
            `${top}:`,
            'r3 = r9',
            'r3 &= 7',
            'r3 <<= 3',
            'r4 = r10',
            'r4 += -64',
            `*(u64 *)(r10 -${8 * (1 + (rnd() % 8))}) = r3`,
            'r9 += 1',
            `if r9 < ${1 + (rnd() % 20)} goto ${top}`,
          );
        } else
          lines.push(
            `call ${pick([5, 7])}`,
            ...['r1', 'r2', 'r3', 'r4', 'r5'].filter(() => chance(0.95)).map((r) => `${r} = ${rnd() % 9}`),
          );
        break;
      }
    }
  }
  for (const p of pending.filter((x) => x.at >= snippets)) lines.push(`${p.name}:`);
  if (chance(0.95)) lines.push(`r0 = ${xdp ? rnd() % 4 : rnd() % 100}`);
  lines.push('exit');
  const text = lines.join('\n');
  return { type: xdp ? ProgType.BPF_PROG_TYPE_XDP : ProgType.BPF_PROG_TYPE_SOCKET_FILTER, text, insns: assemble(text) };
}
