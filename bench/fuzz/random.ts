/**
 * Rng: a seeded pseudo-random source (mulberry32), so that a fuzz case is a pure function of
 * (seed, target, case index): `--seed S` replays the same inputs on any machine.
 */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  /** caseRng is the source of one case: the run's seed mixed with the target's name and the case index. */
  static forCase(seed: number, target: string, index: number): Rng {
    let h = (seed ^ 0x9e3779b9) >>> 0;
    for (const c of `${target}#${index}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
    return new Rng(h);
  }

  /** u32 is the next 32-bit value. */
  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** below is an integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }

  /** pick is one element of a non-empty list. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)];
  }

  /** chance is true with probability p. */
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
}
