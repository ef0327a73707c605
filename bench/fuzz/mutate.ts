import type { Rng } from './random.js';

/**
 * INTERESTING: the values that sit on the edges parsers get wrong (AFL's table, widened to 64
 * bits): zero, one, sign boundaries, all ones, and powers of two next to them.
 */
export const INTERESTING: readonly bigint[] = [
  0n,
  1n,
  2n,
  0x7fn,
  0x80n,
  0xffn,
  0x100n,
  0x7fffn,
  0x8000n,
  0xffffn,
  0x10000n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0xffffffffffffffffn,
];

/** ByteMutator: one edit of a byte string; `others` are the target's other seeds (splice sources). */
type ByteMutator = (b: Uint8Array, r: Rng, others: readonly Uint8Array[]) => Uint8Array;

const WIDTHS = [1, 2, 4, 8] as const;

/** putInt writes the low `width` bytes of v at off, little- or big-endian, clipped to the buffer. */
function putInt(b: Uint8Array, off: number, width: number, v: bigint, le: boolean): void {
  for (let i = 0; i < width && off + i < b.length; i++) {
    const byte = Number((v >> BigInt(8 * i)) & 0xffn);
    b[le ? off + i : off + width - 1 - i] = byte;
  }
}

/** BYTE_MUTATORS: the edits, by name (the name goes into each reproducer's meta.json). */
export const BYTE_MUTATORS: Readonly<Record<string, ByteMutator>> = {
  /** flip 1 to 8 single bits */
  bitflip(b, r) {
    const o = b.slice();
    for (let n = 1 + r.below(8); n > 0 && o.length; n--) o[r.below(o.length)] ^= 1 << r.below(8);
    return o;
  },
  /** an interesting value of 1, 2, 4 or 8 bytes at any offset, either byte order */
  interesting(b, r) {
    const o = b.slice();
    if (o.length) putInt(o, r.below(o.length), r.pick(WIDTHS), r.pick(INTERESTING), r.chance(0.7));
    return o;
  },
  /**
   * a length field edited: a 16- or 32-bit little-endian word whose value could be a length or
   * an offset into this file (1 ≤ v ≤ size) is set to 0, v ± a little, the size ± a little, or huge
   */
  lengthField(b, r) {
    const o = b.slice();
    const width = r.chance(0.7) ? 4 : 2;
    const dv = new DataView(o.buffer, o.byteOffset, o.byteLength);
    const candidates: number[] = [];
    for (let off = 0; off + width <= o.length; off += 2) {
      const v = width === 4 ? dv.getUint32(off, true) : dv.getUint16(off, true);
      if (v >= 1 && v <= o.length) candidates.push(off);
    }
    if (!candidates.length) return BYTE_MUTATORS.interesting(b, r, []);
    const off = r.pick(candidates);
    const v = width === 4 ? dv.getUint32(off, true) : dv.getUint16(off, true);
    const max = width === 4 ? 0xffffffff : 0xffff;
    const choices = [0, v - 1, v + 1, v + 1 + r.below(64), v - 1 - r.below(v), o.length, o.length + 1 + r.below(4096), max, max >>> 1];
    const nv = Math.min(max, Math.max(0, r.pick(choices)));
    if (width === 4) dv.setUint32(off, nv, true);
    else dv.setUint16(off, nv, true);
    return o;
  },
  /** a chunk of this or another seed copied over, or inserted at, a random place */
  splice(b, r, others) {
    const src = others.length && r.chance(0.5) ? r.pick(others) : b;
    if (!src.length) return b.slice();
    const from = r.below(src.length);
    const chunk = src.subarray(from, from + 1 + r.below(Math.min(256, src.length - from)));
    const at = r.below(b.length + 1);
    if (r.chance(0.5)) {
      const o = b.slice();
      o.set(chunk.subarray(0, Math.max(0, o.length - at)), at);
      return o;
    }
    return concat(b.subarray(0, at), chunk, b.subarray(at));
  },
  /** a chunk removed */
  erase(b, r) {
    if (b.length < 2) return b.slice();
    const at = r.below(b.length);
    const n = 1 + r.below(Math.min(512, b.length - at));
    return concat(b.subarray(0, at), b.subarray(at + n));
  },
  /** cut short: anywhere, or in the last few bytes */
  truncate(b, r) {
    const keep = r.chance(0.5) ? r.below(b.length) : Math.max(0, b.length - 1 - r.below(16));
    return b.slice(0, keep);
  },
};

/** concat joins byte strings. */
function concat(...parts: Uint8Array[]): Uint8Array {
  const o = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    o.set(p, at);
    at += p.length;
  }
  return o;
}

/** mutateBytes stacks 1 to 4 byte edits on a seed; it returns the input and the edits' names. */
export function mutateBytes(seed: Uint8Array, r: Rng, others: readonly Uint8Array[]): { input: Uint8Array; edits: string[] } {
  const names = Object.keys(BYTE_MUTATORS);
  // a plain Uint8Array copy: slice() below must copy (a Buffer's slice is a view of the seed)
  let input: Uint8Array = Uint8Array.from(seed);
  const edits: string[] = [];
  for (let n = 1 + r.below(4); n > 0; n--) {
    const name = r.pick(names);
    input = BYTE_MUTATORS[name](input, r, others);
    edits.push(name);
  }
  return { input, edits };
}

/** ODD_NUMBERS and ODD_STRINGS: what a text edit puts where a number or a string was. */
const ODD_NUMBERS = ['-1', '0', '1', '-0', '65536', '4294967296', '99999999999999999999', '1e309', '0.5', 'NaN', '0x10', '-2147483649'];
const ODD_STRINGS = [
  '',
  '""',
  'null',
  '[]',
  '{}',
  '../../nope',
  'a'.repeat(300),
  '"\\n"',
  '%',
  '~',
  '*x',
  '!!binary x',
  '"\\u0000"',
  '[[[[[[',
];

/** TEXT_MUTATORS: edits that keep a config or JSON file mostly well-formed, so the deeper checks run. */
const TEXT_MUTATORS: Readonly<Record<string, (t: string, r: Rng) => string>> = {
  number(t, r) {
    const nums = [...t.matchAll(/-?\b\d+(\.\d+)?\b/g)];
    if (!nums.length) return t;
    const m = r.pick(nums);
    return t.slice(0, m.index) + r.pick(ODD_NUMBERS) + t.slice(m.index! + m[0].length);
  },
  value(t, r) {
    const vals = [...t.matchAll(/(:\s*|\[\s*|,\s*|-\s+)("[^"\n]*"|'[^'\n]*'|[A-Za-z0-9_./:-]+)/g)];
    if (!vals.length) return t;
    const m = r.pick(vals);
    const at = m.index! + m[1].length;
    return t.slice(0, at) + r.pick([...ODD_STRINGS, ...ODD_NUMBERS]) + t.slice(at + m[2].length);
  },
  lines(t, r) {
    const ls = t.split('\n');
    const i = r.below(ls.length);
    const j = r.below(ls.length);
    switch (r.below(3)) {
      case 0:
        ls.splice(i, 1);
        break;
      case 1:
        ls.splice(i, 0, ls[j]);
        break;
      default:
        [ls[i], ls[j]] = [ls[j], ls[i]];
    }
    return ls.join('\n');
  },
};

/** mutateText stacks 1 to 3 edits on a text seed: mostly text edits, sometimes a byte edit. */
export function mutateText(seed: string, r: Rng): { input: Uint8Array; edits: string[] } {
  let t = seed;
  const edits: string[] = [];
  const names = Object.keys(TEXT_MUTATORS);
  for (let n = 1 + r.below(3); n > 0; n--) {
    if (r.chance(0.25)) {
      const { input, edits: e } = mutateBytes(Buffer.from(t), r, []);
      return { input, edits: [...edits, ...e] };
    }
    const name = r.pick(names);
    t = TEXT_MUTATORS[name](t, r);
    edits.push(name);
  }
  return { input: Buffer.from(t), edits };
}
