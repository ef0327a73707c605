import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCollection } from '../elf/collection.js';
import { verifierOpsOf } from '../hooks/progTypes/verifierOpsOf.js';
import { loadCollection } from '../kernel/loadCollection.js';
import { Kernel } from '../kernel/kernel.js';
import type { ProgObject } from '../kernel/objects.js';
import { verifierMaps } from '../kernel/verifierMaps.js';
import { verify } from '../vm/verifier/verify.js';
import { SoundnessBench } from '../test/support/soundness.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** VerifierRow: one corpus program: bpfbox's verification time and the kernel's, and what each processed. */
export interface VerifierRow {
  readonly program: string;
  readonly insns: number;
  readonly processed: number;
  readonly us: number;
  readonly kernelUs?: number;
  readonly kernelProcessed?: number;
}

/**
 * verifierBenchmarks: for every program of the corpus, the best of 20 runs of bpfbox's verifier
 * and the kernel's own "verification time" (log_level 4) for the same object, loaded by libbpf
 * (bench/kverify/kverify.c) in the same run; the kernel's column is empty without root or libbpf.
 */
export function verifierBenchmarks(): { rows: VerifierRow[]; kernelNote?: string } {
  const tool = join(tmpdir(), 'bpfbox-kverify');
  const built = spawnSync('cc', ['-O2', '-o', tool, join(ROOT, 'bench', 'kverify', 'kverify.c'), '-lbpf']).status === 0;
  const root = process.getuid?.() === 0;
  const rows: VerifierRow[] = [];
  const jobs: { row: Omit<VerifierRow, 'us' | 'processed'>; insns: ProgObject['program']['insns']; opts: Parameters<typeof verify>[1] }[] =
    [];
  for (const f of readdirSync(join(ROOT, 'bpf'))
    .filter((x) => x.endsWith('.o'))
    .sort()) {
    const path = join(ROOT, 'bpf', f);
    const kernel = new Map<string, [number, number]>();
    if (built && root) {
      const r = spawnSync(tool, [path, '5'], { encoding: 'utf8' });
      for (const line of r.stdout.trim().split('\n')) {
        const [name, us, n] = line.split(' ');
        if (name && Number(us) >= 0) kernel.set(name, [Number(us), Number(n)]);
      }
    }
    const k = new Kernel();
    let loaded;
    try {
      loaded = loadCollection(k.process, readCollection(readFileSync(path), { name: f }));
    } catch {
      continue; // an object bpfbox cannot load (its loader test says why)
    }
    for (const [name, fd] of loaded.programs) {
      const p = k.process.fds.get(fd)!.obj as ProgObject;
      const opts = {
        progType: p.type,
        ops: verifierOpsOf(p.type, p.expectedAttachType),
        maps: verifierMaps(k.process, p.program.insns),
        funcInfo: p.funcInfo.size > 0,
      };
      const kv = kernel.get(name);
      jobs.push({
        row: { program: `${f}:${name}`, insns: p.program.slots.length, kernelUs: kv?.[0], kernelProcessed: kv?.[1] },
        insns: p.program.insns,
        opts,
      });
    }
  }
  // warm the verifier's code up on the whole corpus first, then the best of 20 runs each
  for (let round = 0; round < 5; round++) for (const j of jobs) verify(j.insns, j.opts);
  for (const j of jobs) {
    let best = Infinity;
    let processed = 0;
    for (let i = 0; i < 20; i++) {
      const t = process.hrtime.bigint();
      const v = verify(j.insns, j.opts);
      best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e3);
      processed = v.stats.processed;
    }
    rows.push({ ...j.row, processed, us: best });
  }
  return { rows, kernelNote: !built ? 'libbpf-dev or cc missing' : !root ? 'not root' : undefined };
}

/** soundnessBenchmark runs the verifier soundness check (test/verifier/soundness.test.ts) over `n` random programs. */
export function soundnessBenchmark(n: number): { programs: number; accepted: number; violations: string[]; seconds: number } {
  const b = new SoundnessBench();
  const t = process.hrtime.bigint();
  let accepted = 0;
  const violations: string[] = [];
  for (let seed = 0; seed < n; seed++) {
    const r = b.check(seed);
    if (r.accepted) accepted++;
    if (r.violation) violations.push(`seed ${seed}: ${r.violation.what}`);
  }
  return { programs: n, accepted, violations, seconds: Number(process.hrtime.bigint() - t) / 1e9 };
}
