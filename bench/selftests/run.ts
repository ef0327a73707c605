import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, homedir, hostname, release } from 'node:os';
import { join } from 'node:path';
import { annotationsOf } from './annotations.js';
import { CLANG, type CompileResult, compile, prepareIncludes, sourcesOf } from './build.js';
import { CATEGORIES, type ProgramRow, type Tally, add, causes, compareProgram, emptyTally } from './compare.js';
import { buildKload, runKernel, runBpfbox } from './sides.js';
import type { BpfboxResult } from './worker.js';

/**
 * npm run differential:selftests [-- --filter REGEX] [--jobs N] [--ksrc DIR] [--out FILE] [--libbpf debian]:
 * the kernel's own BPF selftests (issue 18's peer suite), each program loaded alone in the
 * running kernel (libbpf, bench/selftests/kload.c) and in bpfbox (bench/selftests/worker.ts,
 * 10 s per program), decisions compared; for __retval programs the test runs too. Prints a
 * table per file, per program type and the totals, and writes every row to a JSON file.
 * Judged against the running kernel, not the annotations (where they differ is counted).
 * Not part of `npm test`: it needs root, clang-16, bpftool, libbpf-dev and a kernel source tree.
 */

const BOUND_MS = 10_000;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** pool runs `work` over `items`, `jobs` at a time, keeping the order of the results. */
async function pool<T, R>(items: readonly T[], jobs: number, work: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: jobs }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]);
      }
    }),
  );
  return out;
}

const SHORT: Record<string, string> = {
  agreeAccept: 'agreeAcc',
  agreeReject: 'agreeRej',
  unsafe: 'UNSAFE',
  falseReject: 'falseRej',
  timeout: 'timeout',
  crash: 'crash',
  loader: 'kLoader',
  early: 'kEarly',
};

function header(first: string): string {
  return [
    first.padEnd(44),
    'progs'.padStart(5),
    ...CATEGORIES.map((c) => SHORT[c].padStart(9)),
    'msg='.padStart(6),
    'retval='.padStart(8),
  ].join(' ');
}

function line(label: string, t: Tally): string {
  return [
    label.padEnd(44).slice(0, 44),
    String(t.total).padStart(5),
    ...CATEGORIES.map((c) => String(t.counts[c]).padStart(9)),
    `${t.msgMatch}/${t.counts.agreeReject}`.padStart(6),
    `${t.retvalMatch}/${t.retvalCompared}`.padStart(8),
  ].join(' ');
}

async function main(): Promise<void> {
  const ksrc = arg('ksrc') ?? '/work/ksrc/linux-source-6.12';
  const jobs = Number(arg('jobs') ?? 2);
  const filter = arg('filter') === undefined ? undefined : new RegExp(arg('filter')!);
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'bpfbox', 'selftests');
  const out = arg('out') ?? join(cache, 'results.json');
  const progsDir = join(ksrc, 'tools', 'testing', 'selftests', 'bpf', 'progs');
  if (!existsSync(progsDir)) throw new Error(`${progsDir}: no kernel selftests there (give --ksrc DIR, an unpacked linux-source)`);
  mkdirSync(cache, { recursive: true });
  const t0 = performance.now();
  const inc = prepareIncludes(cache, ksrc);
  const { tool: kload, libbpf } = buildKload(cache, ksrc, arg('libbpf') === 'debian' ? 'debian' : 'source');
  const files = sourcesOf(progsDir, filter);
  console.log(`selftests: ${files.length} files from ${progsDir}, cache ${cache}, ${jobs} jobs, kernel side: ${libbpf}`);

  const compiled: CompileResult[] = await pool(files, jobs, (f) => compile(cache, inc, ksrc, f));
  const failed = compiled.filter((c) => c.error);
  console.log(
    `compiled ${compiled.length - failed.length}/${files.length} with ${CLANG} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );

  const rows: ProgramRow[] = [];
  const objectErrors: { file: string; outcome: string; msg: string }[] = [];
  const perFile = new Map<string, Tally>();
  let doneFiles = 0;
  await pool(
    compiled.filter((c) => c.obj),
    jobs,
    async (c) => {
      const ann = annotationsOf(c.obj!);
      const run = [...ann.entries()].filter(([, a]) => a.retval !== undefined).map(([n]) => n);
      const aux = [...ann.entries()].filter(([, a]) => a.auxiliary).map(([n]) => n);
      const kernel = await runKernel(kload, c.obj!, run, aux);
      const box = await runBpfbox(c.obj!, run, BOUND_MS, aux);
      if (box.object) objectErrors.push({ file: c.file, ...box.object });
      const byName = new Map(box.programs.map((p) => [p.name, p]));
      const t = emptyTally();
      for (const k of kernel) {
        if (k.name === '-') continue;
        const b: BpfboxResult =
          byName.get(k.name) ??
          (box.object
            ? { name: k.name, outcome: box.object.outcome, errno: box.object.errno, msg: box.object.msg, ms: 0 }
            : { name: k.name, outcome: 'reject', errno: 0, msg: 'bpfbox: no program of this name in the object', ms: 0 });
        const r = compareProgram(c.file, k, b, ann.get(k.name));
        rows.push(r);
        add(t, r);
      }
      perFile.set(c.file, t);
      doneFiles++;
      if (process.stderr.isTTY) process.stderr.write(`\r${doneFiles} files done`);
    },
  );
  if (process.stderr.isTTY) process.stderr.write('\n');
  const seconds = (performance.now() - t0) / 1000;

  console.log('\n' + header('file'));
  for (const f of [...perFile.keys()].sort()) console.log(line(f, perFile.get(f)!));
  const byType = new Map<string, Tally>();
  const total = emptyTally();
  for (const r of rows) {
    if (!byType.has(r.type)) byType.set(r.type, emptyTally());
    add(byType.get(r.type)!, r);
    add(total, r);
  }
  console.log('\n' + header('program type'));
  for (const [ty, t] of [...byType.entries()].sort((a, b) => b[1].total - a[1].total)) console.log(line(ty, t));
  console.log('\n' + header('TOTAL'));
  console.log(line(`${rows.length} programs, ${compiled.length - failed.length} objects`, total));
  const decided = total.total - total.counts.loader - total.counts.early;
  const agree = total.counts.agreeAccept + total.counts.agreeReject;
  console.log(
    `decision agreement ${agree}/${decided} (${((100 * agree) / Math.max(1, decided)).toFixed(1)}%) of programs the kernel decided;` +
      ` refusal message identical ${total.msgMatch}/${total.counts.agreeReject}, errno ${total.errnoMatch}/${total.counts.agreeReject};` +
      ` retval ${total.retvalMatch}/${total.retvalCompared}; annotation != running kernel ${total.annotationDiffers}`,
  );
  const unsafe = causes(rows, 'unsafe');
  const falseRej = causes(rows, 'falseReject');
  const crash = causes(rows, 'crash');
  const show = (title: string, gs: typeof unsafe) => {
    console.log(`\n${title}`);
    for (const g of gs.slice(0, 25)) console.log(`  ${String(g.count).padStart(4)}  ${g.cause}   e.g. ${g.example}`);
  };
  show(`UNSAFE (bpfbox accepts, kernel refuses): ${total.counts.unsafe}, by the kernel's message`, unsafe);
  show(`false rejections (bpfbox refuses, kernel loads): ${total.counts.falseReject}, by bpfbox's message`, falseRej);
  show(`crashes: ${total.counts.crash}`, crash);
  console.log(
    `\ntimeouts (> ${BOUND_MS / 1000} s): ${
      rows
        .filter((r) => r.category === 'timeout')
        .map((r) => `${r.file}:${r.name}`)
        .join(' ') || 'none'
    }`,
  );
  if (failed.length) console.log(`\ndid not compile (${failed.length}):\n${failed.map((f) => `  ${f.file}: ${f.error}`).join('\n')}`);
  if (objectErrors.length)
    console.log(
      `\nobjects bpfbox could not read (${objectErrors.length}):\n${objectErrors.map((o) => `  ${o.file}: ${o.outcome}: ${o.msg}`).join('\n')}`,
    );
  const clang = spawnSync(CLANG, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
  writeFileSync(
    out,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: `${hostname()} ${cpus().length} CPUs, kernel ${release()}`,
        command: `node ${process.argv.slice(1).join(' ')}`,
        clang,
        libbpf,
        ksrc,
        seconds: Math.round(seconds),
        totals: total,
        byType: Object.fromEntries(byType),
        causes: { unsafe, falseReject: falseRej, crash },
        compileFailures: failed,
        objectErrors,
        programs: rows,
      },
      null,
      1,
    ),
  );
  console.log(`\n${rows.length} programs in ${seconds.toFixed(0)} s; results: ${out}`);
}

main().catch((e) => {
  console.error(`differential:selftests: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
