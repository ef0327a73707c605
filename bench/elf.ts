import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCollection } from '../elf/collection.js';
import { loadCollection } from '../kernel/loadCollection.js';
import { Kernel } from '../kernel/kernel.js';

/** ElfBenchResult: median milliseconds to read an object, and to read and load it. */
export interface ElfBenchResult {
  readonly file: string;
  readonly bytes: number;
  readonly readMs: number;
  readonly loadMs: number;
}

const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function ms(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** elfBenchmarks times reading and loading each corpus object (median of 21 runs after warm-up). */
export function elfBenchmarks(): ElfBenchResult[] {
  const dir = fileURLToPath(new URL('../../bpf/', import.meta.url));
  return readdirSync(dir)
    .filter((f) => f.endsWith('.o'))
    .sort()
    .map((file) => {
      const bytes = readFileSync(join(dir, file));
      const run = () => loadCollection(new Kernel({ ncpus: 2 }).process, readCollection(bytes, { name: file }));
      for (let i = 0; i < 5; i++) run();
      const read = median(Array.from({ length: 21 }, () => ms(() => readCollection(bytes, { name: file }))));
      const load = median(Array.from({ length: 21 }, () => ms(run)));
      return { file, bytes: bytes.length, readMs: read, loadMs: load };
    });
}
