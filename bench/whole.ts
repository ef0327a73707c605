import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSynthCapture } from '../pcaps/synth.js';
import { genCaptures, SAMPLE } from './genCaptures.js';

/**
 * The whole command, timed from outside as a person at a shell feels it: process start,
 * module loading, the ELF load and the verifier, the replay, exit. Each command runs several
 * times (hyperfine when installed, else turn by turn here) and is reported by its median, next
 * to `tcpdump -r FILE -w /dev/null 'ip proto 17'` on the same file and the kernel replaying it
 * with one BPF_PROG_TEST_RUN per packet (bench/kreplay), with the peak RSS of one more run
 * (`/usr/bin/time -f %M`).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'bundle', 'cli', 'main.js');
/** The installed command (package.json's bin): a shell entry that answers --version and runs CLI in Node otherwise. */
const BIN = join(ROOT, 'dist', 'bundle', 'cli', 'bpfbox');
/** tsc's output of the same CLI, one module a file (the bundle's baseline). */
const UNBUNDLED_CLI = join(ROOT, 'dist', 'appliance', 'cli', 'main.js');
const OBJ = join(ROOT, 'bpf', 'lpm_firewall.o');
const PROG = 'xdp_firewall';

/** WholeRow: one command of the whole-command figures (seconds; rssMb from /usr/bin/time). */
export interface WholeRow {
  readonly what: string;
  readonly file?: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
  readonly rssMb?: number;
  readonly vsTcpdump?: number;
  readonly note?: string;
}

/** WholeAim: one of the issue's aims, the figure this run measured, and whether it is met. */
export interface WholeAim {
  readonly aim: string;
  readonly measured: string;
  readonly met: boolean;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** times runs each command `runs` times (after one warm-up) and returns the seconds of each run. */
function times(cmds: readonly (readonly string[])[], runs: number): number[][] {
  if (has('hyperfine')) {
    const dir = mkdtempSync(join(tmpdir(), 'bpfbox-whole-'));
    try {
      const out = join(dir, 'h.json');
      const r = spawnSync(
        'hyperfine',
        [
          '-N',
          '--warmup',
          '1',
          '--runs',
          String(runs),
          '--style',
          'none',
          '--export-json',
          out,
          ...cmds.map((c) => c.map(quote).join(' ')),
        ],
        { encoding: 'utf8', maxBuffer: 1 << 24 },
      );
      if (r.status !== 0) throw new Error(`hyperfine failed: ${r.stderr.trim().split('\n').pop()}`);
      return (JSON.parse(readFileSync(out, 'utf8')).results as { times: number[] }[]).map((x) => x.times);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  // without hyperfine: the commands take turns, so a drift in the machine's speed touches each alike
  const all = cmds.map(() => [] as number[]);
  for (let k = -1; k < runs; k++)
    cmds.forEach((c, i) => {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(c[0], c.slice(1), { stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`${c.join(' ')} failed`);
      if (k >= 0) all[i].push(Number(process.hrtime.bigint() - t0) / 1e9);
    });
  return all;
}

/** peakRss: the peak resident set (MB) of one run of `cmd`, from GNU time's %M (KB); undefined without /usr/bin/time. */
function peakRss(cmd: readonly string[]): number | undefined {
  if (!existsSync('/usr/bin/time')) return undefined;
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...cmd], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const kb = Number(r.stderr.trim().split('\n').pop());
  return r.status === 0 && Number.isFinite(kb) ? Math.round(kb / 1024) : undefined;
}

/** replay: the installed command's replay of a file (or, given tsc's output, the same in Node from one module a file). */
const replay = (file: string, workers: number, unbundled?: string) => [
  ...(unbundled ? [process.execPath, unbundled] : [BIN]),
  'replay',
  file,
  '--obj',
  OBJ,
  '--prog',
  PROG,
  '--workers',
  String(workers),
  '--json',
];
const tcpdump = (file: string) => ['tcpdump', '-r', file, '-w', '/dev/null', 'ip proto 17'];

/** kreplayBinary builds bench/kreplay (libbpf) when it can and this is root; else the reason it cannot. */
function kreplayBinary(): string | { why: string } {
  if (process.getuid?.() !== 0) return { why: 'not root' };
  const bin = join(tmpdir(), 'bpfbox-kreplay');
  const cc = spawnSync('cc', ['-O2', '-o', bin, join(ROOT, 'bench', 'kreplay', 'kreplay.c'), '-lbpf']);
  return cc.status === 0 ? bin : { why: 'libbpf-dev or cc missing' };
}

/**
 * wholeBenchmarks: `bpfbox --version`; `bpfbox replay` of the 1,000-packet sample, of the 1M
 * mixed capture (1 and 2 workers) and of a big capture of 64-byte frames (BPFBOX_WHOLE_BIG
 * packets, 10M unless set; generated here and deleted afterwards unless BPFBOX_BENCH_KEEP),
 * each next to tcpdump and the kernel's per-packet test-run on the same file.
 */
export function wholeBenchmarks(options: { bigPackets?: number } = {}): { rows: WholeRow[]; aims: WholeAim[]; notes: string[] } {
  const notes: string[] = [];
  const dir = join(tmpdir(), 'bpfbox-bench-captures');
  const n = 1_000_000;
  const mixed = existsSync(join(dir, `mixed-${n}.pcap`)) ? join(dir, `mixed-${n}.pcap`) : genCaptures(dir, n).mixed;
  const bigN = options.bigPackets ?? Number(process.env.BPFBOX_WHOLE_BIG ?? 10_000_000);
  const big = join(dir, `whole-small64-${bigN}.pcap`);
  if (!existsSync(big)) {
    mkdirSync(dir, { recursive: true });
    const t0 = process.hrtime.bigint();
    writeSynthCapture(big, { packets: bigN, seed: 3, mix: 'small' });
    notes.push(
      `generated ${bigN} 64-byte frames (${Math.round(statSync(big).size / 1e6)} MB) in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s`,
    );
  }
  const kreplay = kreplayBinary();
  if (typeof kreplay !== 'string') notes.push(`kernel test-run replay: ${kreplay.why}`);
  if (!has('tcpdump')) notes.push('tcpdump not installed: no ratios');
  const rows: WholeRow[] = [];
  const add = (what: string, cmds: { what: string; cmd: string[] }[], runs: number, file?: string) => {
    const t = times(
      cmds.map((c) => c.cmd),
      runs,
    );
    const base = cmds.findIndex((c) => c.cmd[0] === 'tcpdump');
    const tcpMedian = base >= 0 ? median(t[base]) : undefined;
    cmds.forEach((c, i) =>
      rows.push({
        what: `${what}: ${c.what}`,
        file,
        median: median(t[i]),
        min: Math.min(...t[i]),
        max: Math.max(...t[i]),
        runs: t[i].length,
        rssMb: peakRss(c.cmd),
        vsTcpdump: tcpMedian && i !== base ? median(t[i]) / tcpMedian : undefined,
      }),
    );
  };
  const on = (file: string, workers: number[]) => [
    ...workers.map((w) => ({ what: `bpfbox replay, ${w} worker${w > 1 ? 's' : ''}`, cmd: replay(file, w) })),
    ...(has('tcpdump') ? [{ what: "tcpdump -r FILE -w /dev/null 'ip proto 17'", cmd: tcpdump(file) }] : []),
    ...(typeof kreplay === 'string' ? [{ what: 'kernel test-run per packet (kreplay)', cmd: [kreplay, OBJ, PROG, file] }] : []),
  ];
  try {
    // the floor: Node starting and ending with nothing to do
    add(
      '--version',
      [
        { what: 'bpfbox --version', cmd: [BIN, '--version'] },
        { what: 'node main.js --version (in Node)', cmd: [process.execPath, CLI, '--version'] },
        { what: 'node -e 0 (Node alone: the floor)', cmd: [process.execPath, '-e', '0'] },
      ],
      10,
    );
    // the same replay from tsc's modules, not the bundle: what bundling saves
    const unbundled = { what: 'bpfbox replay, 1 worker, unbundled (dist/appliance/cli)', cmd: replay(SAMPLE, 1, UNBUNDLED_CLI) };
    add('sample (1,000 packets)', [...on(SAMPLE, [1]), unbundled], 10, SAMPLE);
    add('1M mixed', on(mixed, [1, 2]), 5, mixed);
    add(`${bigN / 1e6}M 64-byte`, on(big, [1, 2]), 3, big);
  } finally {
    if (!process.env.BPFBOX_BENCH_KEEP) rmSync(big, { force: true });
  }
  const row = (prefix: string) => rows.find((r) => r.what.startsWith(prefix));
  const aims: WholeAim[] = [];
  const ms = (s: number | undefined) => (s === undefined ? 'n/a' : `${(s * 1e3).toFixed(0)} ms`);
  const version = row('--version: bpfbox');
  aims.push({ aim: '--version under 80 ms', measured: ms(version?.median), met: (version?.median ?? Infinity) < 0.08 });
  const sample = row('sample (1,000 packets): bpfbox replay, 1');
  aims.push({ aim: 'the 1,000-packet replay under 150 ms', measured: ms(sample?.median), met: (sample?.median ?? Infinity) < 0.15 });
  for (const w of ['1 worker', '2 workers']) {
    const r = row(`1M mixed: bpfbox replay, ${w}`);
    aims.push({
      aim: `the 1M replay (${w}) no slower than tcpdump's whole run`,
      measured: r?.vsTcpdump === undefined ? 'n/a' : `${r.vsTcpdump.toFixed(2)}x tcpdump's time`,
      met: (r?.vsTcpdump ?? Infinity) <= 1,
    });
  }
  const big2 = row(`${bigN / 1e6}M 64-byte: bpfbox replay, 2`);
  aims.push({
    aim: `the ${bigN / 1e6}M replay on 2 workers at least 1.5x faster than tcpdump's`,
    measured: big2?.vsTcpdump === undefined ? 'n/a' : `${(1 / big2.vsTcpdump).toFixed(2)}x tcpdump's speed`,
    met: big2?.vsTcpdump !== undefined && 1 / big2.vsTcpdump >= 1.5,
  });
  const rss = Math.max(...rows.filter((r) => r.file === big && r.what.includes('bpfbox')).map((r) => r.rssMb ?? Infinity));
  aims.push({ aim: `peak RSS on the ${bigN / 1e6}M file under 300 MB`, measured: `${rss} MB`, met: rss < 300 });
  return { rows, aims, notes };
}

/** printWholeBenchmarks: the section of npm run bench (and all of npm run bench:whole). */
export function printWholeBenchmarks(options: { bigPackets?: number } = {}): void {
  console.log(
    `whole command, timed from outside (${has('hyperfine') ? 'hyperfine -N' : 'turn by turn'}, medians), program ${PROG} (lpm_firewall.o); peak RSS of one more run (/usr/bin/time -f %M)`,
  );
  const before = loadavg()[0];
  const { rows, aims, notes } = wholeBenchmarks(options);
  console.log(
    `  load average (1 min) ${before.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after: other work on the machine stretches every figure`,
  );
  for (const n of notes) console.log(`  ${n}`);
  console.log(
    `${'command'.padEnd(66)} ${'median ms'.padStart(10)} ${'min'.padStart(7)} ${'max'.padStart(7)} ${'runs'.padStart(5)} ${'RSS MB'.padStart(7)} ${'/tcpdump'.padStart(9)}`,
  );
  for (const r of rows)
    console.log(
      `${r.what.padEnd(66)} ${(r.median * 1e3).toFixed(0).padStart(10)} ${(r.min * 1e3).toFixed(0).padStart(7)} ${(r.max * 1e3).toFixed(0).padStart(7)} ${String(r.runs).padStart(5)} ${String(r.rssMb ?? '-').padStart(7)} ${(r.vsTcpdump === undefined ? '-' : `${r.vsTcpdump.toFixed(2)}x`).padStart(9)}`,
    );
  console.log('aims (issue 17):');
  for (const a of aims) console.log(`  ${a.met ? 'met    ' : 'not met'}  ${a.aim}: ${a.measured}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) printWholeBenchmarks();
