/**
 * stackify: WebAssembly's structured control flow for a function's blocks, laid out in
 * address order, when the graph allows it. A back edge n -> h makes h a loop header: a `loop`
 * around blocks h..e (e the last block branching back to h), its back edges `br` to it. A
 * forward branch to block j needs a `block` that ends just before j, opened no later than its
 * first source. Constructs must nest: a block that starts inside a loop and ends after it is
 * opened before the loop instead; two crossing blocks become one inside the other. A graph
 * where that cannot work (a branch into the middle of a loop from outside it: irreducible, or
 * loops that cross) gets `undefined`, and the caller keeps its dispatch loop.
 *
 * `edges[n]` lists the blocks block n branches to explicitly (falling into n + 1 needs no
 * construct). Constructs come back in the order to open them at each position: the outermost
 * (the one ending last) first; a loop before the blocks inside it.
 */
export interface Construct {
  readonly kind: 'block' | 'loop';
  /** Opened before block `start`'s code; closed before block `end`'s (end may be one past the last block). */
  start: number;
  readonly end: number;
}

export function stackify(edges: readonly (readonly number[])[]): Construct[] | undefined {
  const loopEnd = new Map<number, number>();
  edges.forEach((out, n) => {
    for (const j of out) if (j <= n) loopEnd.set(j, Math.max(loopEnd.get(j) ?? j, n));
  });
  const loops = [...loopEnd].map(([h, e]) => ({ kind: 'loop' as const, start: h, end: e + 1 }));
  // loops nest or are apart
  for (const a of loops) for (const b of loops) if (a.start < b.start && b.start < a.end && a.end < b.end) return undefined;
  // a loop is entered at its header only
  for (const [n, out] of edges.entries()) {
    for (const j of out) for (const l of loops) if (j > l.start && j < l.end && (n < l.start || n >= l.end)) return undefined;
  }
  const firstSource = new Map<number, number>();
  edges.forEach((out, n) => {
    for (const j of out) if (j > n) firstSource.set(j, Math.min(firstSource.get(j) ?? n, n));
  });
  const blocks = [...firstSource].map(([j, s]) => ({ kind: 'block' as const, start: s, end: j }));
  for (let changed = true; changed; ) {
    changed = false;
    for (const b of blocks) {
      for (const l of loops) {
        // starts inside the loop, ends after it: open it before the loop
        if (b.start > l.start && b.start < l.end && b.end > l.end) ((b.start = l.start), (changed = true));
        // starts before the loop, ends inside it: cannot nest
        if (b.start < l.start && b.end > l.start && b.end < l.end) return undefined;
      }
      for (const o of blocks) if (b.start < o.start && o.start < b.end && b.end < o.end) ((o.start = b.start), (changed = true));
    }
  }
  // opening order at one position: the one ending last outermost; a loop outside a block ending with it
  const all: Construct[] = [...loops, ...blocks].sort((a, b) => a.start - b.start || b.end - a.end || (a.kind === 'loop' ? -1 : 1));
  // closing must then go innermost first: check it
  const open: Construct[] = [];
  for (let n = 0; n <= edges.length; n++) {
    while (open.length && open[open.length - 1].end === n) open.pop();
    if (open.some((x) => x.end === n)) return undefined;
    for (const x of all) if (x.start === n) open.push(x);
  }
  return all;
}
