import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDefect, runFuzz, type CaseResult } from '../../bench/fuzz/fuzz.js';
import { classify, type Outcome } from '../../bench/fuzz/outcome.js';
import { CLI_BUNDLE, runNode } from '../../bench/fuzz/runCase.js';
import { TARGETS } from '../../bench/fuzz/targets.js';
import { CLI } from '../support/cli.js';

/** SMOKE: the first cases of every target under a fixed seed (a subset of `npm run fuzz -- --seed 1`). */
const SMOKE = { seed: 1, cases: 20 } as const;

/**
 * KNOWN: defects the smoke cases find in today's code, each with the issue item it belongs to.
 * The test fails on any defect not listed here, and on a listed one that no longer happens
 * (then remove it): nothing is excluded silently.
 */
const KNOWN: readonly { target: string; index: number; outcome: CaseResult['outcome']; item: string }[] = [];

/**
 * The classifier against processes whose ending is known because they were written to end so:
 * the fuzz suite's counts are only as good as this.
 */
describe('fuzz: outcome classes of real child processes', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'bpfbox-fuzz-classes-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: [string, string, Outcome, number?][] = [
    ['exit 0', 'console.log("ok")', 'accepted'],
    ['one line, exit 1', 'console.error("Error: x.pcap: truncated record"); process.exit(1)', 'clean error'],
    ['usage text, exit 1', 'console.error("usage: x\\n  --a\\nbad"); process.exit(1)', 'long error'],
    ['an uncaught throw', 'throw new Error("boom")', 'stack trace'],
    ['the CLI marker', 'console.error("bpfbox: internal error (a bug)"); process.exit(70)', 'stack trace'],
    ['a busy loop', 'for (;;);', 'hang', 1500],
    ['SIGSEGV', 'process.kill(process.pid, "SIGSEGV")', 'crash'],
    ['a growing heap', 'const a = []; for (;;) a.push({ x: Math.random(), y: [1, 2, 3] })', 'out of memory', 60_000],
  ];
  for (const [what, code, want, timeoutMs] of cases)
    it(`${what}: ${want}`, async () => {
      const limits = { timeoutMs: timeoutMs ?? 20_000, heapMb: 32 };
      const e = await runNode(['--max-old-space-size=32', '-e', code], dir, dir, limits);
      assert.equal(classify(e), want, e.stderr);
    });
});

/**
 * `npm run fuzz`, small: every target's first cases through the installed CLI, none of them a
 * stack trace, a hang, a crash or out of memory. The oracle is the process itself: its exit
 * status, its signal and what it printed on stderr (bench/fuzz/outcome.ts).
 */
describe('fuzz smoke: the first cases of every target (seed 1)', function () {
  this.timeout(30 * 60_000); // 140 child processes on a loaded 2-core machine, hangs retried at 3× the limit
  const outDir = mkdtempSync(join(tmpdir(), 'bpfbox-fuzz-smoke-'));
  let failed = false;
  afterEach(function () {
    failed ||= this.currentTest?.state === 'failed';
  });
  after(() => {
    if (failed) console.log(`    fuzz smoke: cases and reproducers kept in ${outDir}`);
    else rmSync(outDir, { recursive: true, force: true });
  });

  it('fuzzes the installed command', () => assert.equal(CLI_BUNDLE, CLI));

  it('finds no stack trace, hang, crash or out-of-memory beyond the known ones', async () => {
    const report = await runFuzz({ targets: [], ...SMOKE, jobs: 2, limits: { timeoutMs: 10_000, heapMb: 1024 }, outDir });
    // every target ran all its cases (a target whose commands all failed to start would count nothing)
    for (const t of TARGETS)
      assert.equal(
        Object.values(report.counts[t.name]).reduce((a, b) => a + b, 0),
        SMOKE.cases,
        t.name,
      );
    const key = (r: { target: string; index: number; outcome: string }) => `${r.target}#${r.index}: ${r.outcome}`;
    const found = report.saved.filter(isDefect);
    const unknown = found.filter((r) => !KNOWN.some((k) => key(k) === key(r)));
    const gone = KNOWN.filter((k) => !found.some((r) => key(k) === key(r)));
    assert.deepEqual(
      unknown.map((r) => `${key(r)} (${r.repro}): ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`),
      [],
      'defects not in KNOWN',
    );
    assert.deepEqual(
      gone.map((k) => `${key(k)} (${k.item})`),
      [],
      'KNOWN defects that no longer happen: remove them',
    );
  });
});
