import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OUTCOMES } from './outcome.js';
import { runFuzz, isDefect, targetsNamed } from './fuzz.js';
import { TARGETS } from './targets.js';

/**
 * npm run fuzz [-- --target NAME ... --cases N --seed S --jobs J --from I --timeout-ms T --heap-mb M --out-dir DIR]
 * Mutation fuzzing of everything a user hands the CLI (bench/fuzz/targets.ts), each case the
 * installed CLI in a bounded child process, each outcome classed (bench/fuzz/outcome.ts).
 * Exit status 1 when any case was a stack trace, a hang, a crash or out of memory.
 */
const { values } = parseArgs({
  options: {
    target: { type: 'string', multiple: true, default: [] },
    cases: { type: 'string', default: '2000' },
    from: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    jobs: { type: 'string', default: '2' },
    'timeout-ms': { type: 'string', default: '10000' },
    'heap-mb': { type: 'string', default: '1024' },
    'out-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run fuzz -- [--target NAME]... [--cases N] [--seed S] [--jobs J] [--from I] [--timeout-ms T] [--heap-mb M] [--out-dir DIR]',
  );
  for (const t of TARGETS) console.log(`  ${t.name.padEnd(9)} ${t.about}`);
  process.exit(0);
}
const int = (name: string, v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`fuzz: --${name} ${v}: expected a non-negative integer`);
    process.exit(2);
  }
  return n;
};
const seed = int('seed', values.seed);
const targets = targetsNamed(values.target).map((t) => t.name);
const outDir = values['out-dir'] ?? join(tmpdir(), `bpfbox-fuzz-seed${seed}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
const cases = int('cases', values.cases);
console.log(
  `bpfbox fuzz: targets ${targets.join(', ')}; ${cases} cases each from ${values.from}; seed ${seed}; reproducers under ${outDir}/repro`,
);
let done = 0;
const total = cases * targets.length;
const t0 = Date.now();
const report = await runFuzz({
  targets,
  cases,
  from: int('from', values.from),
  seed,
  jobs: int('jobs', values.jobs),
  limits: { timeoutMs: int('timeout-ms', values['timeout-ms']), heapMb: int('heap-mb', values['heap-mb']) },
  outDir,
  onCase(r) {
    done++;
    if (r.repro) console.log(`  ${r.outcome}: ${r.repro} (${r.stderr.trim().split('\n')[0]?.slice(0, 120) ?? ''})`);
    else if (done % 50 === 0) console.log(`  ${done}/${total} cases, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  },
});
console.log('');
console.log(`${'target'.padEnd(10)}${OUTCOMES.map((k) => k.padStart(14)).join('')}`);
for (const [name, c] of Object.entries(report.counts))
  console.log(`${name.padEnd(10)}${OUTCOMES.map((k) => String(c[k]).padStart(14)).join('')}`);
console.log(`\n${done} cases in ${((Date.now() - t0) / 1000).toFixed(0)} s; ${report.saved.length} reproducers under ${outDir}/repro`);
process.exitCode = report.saved.some(isDefect) ? 1 : 0;
