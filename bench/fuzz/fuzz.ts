import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { classify, DEFECTS, OUTCOMES, type Outcome } from './outcome.js';
import { Rng } from './random.js';
import { nodeArgs, runCli, type Limits } from './runCase.js';
import { copyState, makeSeeds, type Seeds } from './seeds.js';
import { TARGETS, type Target } from './targets.js';

/** FuzzOptions: what `npm run fuzz` and the smoke test choose. */
export interface FuzzOptions {
  readonly targets: readonly string[];
  readonly cases: number;
  readonly seed: number;
  readonly jobs: number;
  readonly limits: Limits;
  /** where seeds, the cases in flight and the reproducers go (printed by the CLI) */
  readonly outDir: string;
  /** called after each case (progress) */
  readonly onCase?: (r: CaseResult) => void;
}

/** CaseResult: one case's outcome; `repro` is its folder when the outcome is not accepted or a clean error. */
export interface CaseResult {
  readonly target: string;
  readonly index: number;
  readonly outcome: Outcome;
  readonly args: readonly string[];
  readonly edits: readonly string[];
  readonly stderr: string;
  readonly repro?: string;
}

/** FuzzReport: counts per target and class, and every case that was not accepted or a clean error. */
export interface FuzzReport {
  readonly counts: Record<string, Record<Outcome, number>>;
  readonly saved: readonly CaseResult[];
  readonly outDir: string;
}

/** HANG_RETRY: a case that hit the time limit runs once more with this many times the limit (a loaded machine is not a hang). */
const HANG_RETRY = 3;

/** shellQuote makes an argument safe for command.sh. */
const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);

/** targetsNamed resolves `--target` names (all of them when none is given). */
export function targetsNamed(names: readonly string[]): Target[] {
  if (!names.length) return [...TARGETS];
  return names.map((n) => {
    const t = TARGETS.find((x) => x.name === n);
    if (!t) throw new Error(`fuzz: no target named ${n} (targets: ${TARGETS.map((x) => x.name).join(', ')})`);
    return t;
  });
}

/** runOne runs case `index` of a target in its own directory and classifies it. */
async function runOne(t: Target, index: number, seeds: Seeds, o: FuzzOptions): Promise<CaseResult> {
  const c = t.make(seeds, Rng.forCase(o.seed, t.name, index), index);
  const dir = join(o.outDir, 'work', `${t.name}-${index}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(c.files)) writeFileSync(join(dir, name), bytes);
  const state = join(dir, 'state');
  const fresh = () => {
    rmSync(state, { recursive: true, force: true });
    if (c.state) copyState(seeds, state);
    else mkdirSync(state);
  };
  fresh();
  let ended = await runCli(c.args, dir, state, o.limits);
  if (ended.timedOut) {
    fresh();
    ended = await runCli(c.args, dir, state, { ...o.limits, timeoutMs: o.limits.timeoutMs * HANG_RETRY });
  }
  const outcome = classify(ended);
  const base = { target: t.name, index, outcome, args: c.args, edits: c.edits, stderr: ended.stderr };
  if (outcome === 'accepted' || outcome === 'clean error') {
    rmSync(dir, { recursive: true, force: true });
    return base;
  }
  const repro = join(o.outDir, 'repro', `${t.name}-${index}-${outcome.replaceAll(' ', '-')}`);
  rmSync(repro, { recursive: true, force: true });
  mkdirSync(join(o.outDir, 'repro'), { recursive: true });
  renameSync(dir, repro);
  const stateSetup = c.state ? `cp -r ${shellQuote(seeds.state)} state` : 'mkdir state';
  const limit = Math.ceil((o.limits.timeoutMs * HANG_RETRY) / 1000);
  writeFileSync(
    join(repro, 'command.sh'),
    [
      '#!/bin/sh',
      `# bpfbox fuzz: target ${t.name}, seed ${o.seed}, case ${index}: ${outcome} (edits: ${c.edits.join(', ')})`,
      `# rerun: npm run fuzz -- --target ${t.name} --seed ${o.seed} --from ${index} --cases 1`,
      `cd "$(dirname "$0")" && rm -rf state && ${stateSetup} &&`,
      `BPFBOX_BPFFS="$PWD/state" timeout -s KILL ${limit} ${shellQuote(process.execPath)} ${nodeArgs(c.args, o.limits).map(shellQuote).join(' ')}`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  writeFileSync(join(repro, 'stderr.txt'), ended.stderr);
  writeFileSync(join(repro, 'stdout.txt'), ended.stdout);
  const meta = { ...base, stderr: undefined, code: ended.code, signal: ended.signal, timedOut: ended.timedOut, seed: o.seed };
  writeFileSync(join(repro, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  return { ...base, repro };
}

/**
 * runFuzz makes the seeds, then runs cases [from, from + cases) of every target on `jobs`
 * concurrent child processes. Each case is a pure function of (seed, target, index).
 */
export async function runFuzz(o: FuzzOptions & { from?: number }): Promise<FuzzReport> {
  const targets = targetsNamed(o.targets);
  mkdirSync(o.outDir, { recursive: true });
  const seeds = await makeSeeds(join(o.outDir, 'seeds'), o.limits);
  const counts: Record<string, Record<Outcome, number>> = {};
  for (const t of targets) counts[t.name] = Object.fromEntries(OUTCOMES.map((k) => [k, 0])) as Record<Outcome, number>;
  const queue: [Target, number][] = [];
  const from = o.from ?? 0;
  // interleaved, so a short run still touches every target
  for (let i = from; i < from + o.cases; i++) for (const t of targets) queue.push([t, i]);
  const saved: CaseResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const [t, i] = queue[next++];
      const r = await runOne(t, i, seeds, o);
      counts[t.name][r.outcome]++;
      if (r.repro) saved.push(r);
      o.onCase?.(r);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, worker));
  rmSync(join(o.outDir, 'work'), { recursive: true, force: true });
  saved.sort((a, b) => a.target.localeCompare(b.target) || a.index - b.index);
  return { counts, saved, outDir: o.outDir };
}

/** isDefect: the classes that must stay at zero. */
export const isDefect = (r: CaseResult) => DEFECTS.includes(r.outcome);
