import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSynthCapture } from '../pcaps/synth.js';
import { genCaptures } from './genCaptures.js';

/** ReplayBench: one line of the replay figures. */
export interface ReplayBench {
  readonly what: string;
  readonly packets: number;
  readonly seconds: number;
  readonly mpps: number;
  readonly note?: string;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'bundle', 'cli', 'main.js');

/** Runs of each JIT configuration (this machine's figures vary by a third from run to run): the median is reported. */
const RUNS = 7;

/** One replay, from its --json summary. */
function bpfboxReplay(
  file: string,
  obj: string,
  prog: string,
  workers: number,
  extra: readonly string[] = [],
): { mpps: number; seconds: number; packets: number; rss: number; perCpu: number[] } {
  const r = spawnSync(
    process.execPath,
    [CLI, 'replay', file, '--obj', obj, '--prog', prog, '--workers', String(workers), '--json', ...extra],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  if (r.status !== 0) throw new Error(`replay failed: ${r.stderr}`);
  const s = JSON.parse(r.stdout);
  return {
    mpps: s.mpps as number,
    seconds: s.seconds as number,
    packets: s.packets as number,
    rss: s.max_rss_mb as number,
    perCpu: s.per_cpu as number[],
  };
}

type Median = ReturnType<typeof bpfboxReplay> & { note: string };

/**
 * inTurns: 1 and 2 workers take turns, RUNS times each, and each is reported by its median.
 * This machine's speed drifts by a third over seconds, so two workers against one is taken
 * turn by turn (each 2-worker run over the 1-worker run just before it), the median of those,
 * in `vs` with the bound the capture's flows put on it.
 */
function inTurns(file: string, obj: string, prog: string, extra: readonly string[]): { one: Median; two: Median; vs: string } {
  const runs = [1, 2].map(() => [] as ReturnType<typeof bpfboxReplay>[]);
  for (let k = 0; k < RUNS; k++) for (const w of [1, 2]) runs[w - 1].push(bpfboxReplay(file, obj, prog, w, extra));
  const ratios = runs[1].map((two, k) => two.mpps / runs[0][k].mpps).sort((a, b) => a - b);
  const median = (all: ReturnType<typeof bpfboxReplay>[]): Median => {
    const sorted = [...all].sort((a, b) => a.mpps - b.mpps);
    return { ...sorted[sorted.length >> 1], note: `median of ${RUNS} (${sorted.map((m) => m.mpps.toFixed(2)).join(' ')})` };
  };
  const [one, two] = [median(runs[0]), median(runs[1])];
  // two workers against one, and the bound the flows' split puts on it (the busier worker's share of the packets)
  const busier = Math.max(...two.perCpu) / two.packets;
  return {
    one,
    two,
    vs: `${ratios[ratios.length >> 1].toFixed(2)}x 1 worker, turn by turn (medians ${(two.mpps / one.mpps).toFixed(2)}x; the flows give one worker ${(100 * busier).toFixed(1)}% of the packets: at most ${(1 / busier).toFixed(2)}x)`,
  };
}

function timed(cmd: string, args: string[]): number | undefined {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * replayBenchmarks: the 1M-packet mixed capture and the 1M 64-byte capture (generated
 * deterministically) replayed through the corpus firewall: interpreted on 1 worker; compiled
 * on 1 and 2 workers, streamed from the file and --preload (steered before the clock), next
 * to, in the same run, `tcpdump -r FILE -w /dev/null 'ip proto 17'` and (root with libbpf) the kernel
 * replaying the same file with one BPF_PROG_TEST_RUN per packet (bench/kreplay/kreplay.c).
 * With `big`, the peak RSS of replaying a 10M-packet file of 64-byte frames.
 */
export function replayBenchmarks(options: { packets?: number; big?: boolean } = {}): { rows: ReplayBench[]; rss10M?: number } {
  const dir = join(tmpdir(), 'bpfbox-bench-captures');
  const n = options.packets ?? 1_000_000;
  const { mixed, small } =
    existsSync(join(dir, `mixed-${n}.pcap`)) && existsSync(join(dir, `small64-${n}.pcap`))
      ? { mixed: join(dir, `mixed-${n}.pcap`), small: join(dir, `small64-${n}.pcap`) }
      : genCaptures(dir, n);
  const obj = join(ROOT, 'bpf', 'lpm_firewall.o');
  const rows: ReplayBench[] = [];
  const kreplay = join(tmpdir(), 'bpfbox-kreplay');
  const built = spawnSync('cc', ['-O2', '-o', kreplay, join(ROOT, 'bench', 'kreplay', 'kreplay.c'), '-lbpf']).status === 0;
  const root = process.getuid?.() === 0;
  for (const [name, file] of [
    ['mixed', mixed],
    ['64-byte', small],
  ] as const) {
    const at = rows.length;
    const r = bpfboxReplay(file, obj, 'xdp_firewall', 1, ['--engine', 'interpreter']);
    rows.push({ what: `bpfbox replay, ${name}, interpreter, 1 worker`, packets: r.packets, seconds: r.seconds, mpps: r.mpps });
    const jit: Record<string, number> = {};
    for (const [how, extra] of [
      ['streamed', []],
      ['--preload', ['--preload']],
    ] as const) {
      const { one, two, vs } = inTurns(file, obj, 'xdp_firewall', ['--engine', 'jit', ...extra]);
      jit[`${how}1`] = one.mpps;
      jit[`${how}2`] = two.mpps;
      rows.push({
        what: `bpfbox replay, ${name}, jit ${how}, 1 worker`,
        packets: one.packets,
        seconds: one.seconds,
        mpps: one.mpps,
        note: `${one.note}, peak RSS ${one.rss} MB`,
      });
      rows.push({
        what: `bpfbox replay, ${name}, jit ${how}, 2 workers`,
        packets: two.packets,
        seconds: two.seconds,
        mpps: two.mpps,
        note: `${two.note}, ${vs}, peak RSS ${two.rss} MB`,
      });
    }
    const t = timed('tcpdump', ['-r', file, '-w', '/dev/null', 'ip proto 17']);
    rows.push(
      t === undefined
        ? { what: `tcpdump -r, ${name}`, packets: n, seconds: 0, mpps: 0, note: 'tcpdump not installed' }
        : { what: `tcpdump -r ... 'ip proto 17', ${name}`, packets: n, seconds: t, mpps: n / t / 1e6 },
    );
    let kernel: number | undefined;
    if (built && root) {
      const r = spawnSync(kreplay, [obj, 'xdp_firewall', file], { encoding: 'utf8' });
      if (r.status === 0) {
        const k = JSON.parse(r.stdout);
        kernel = k.packets / k.seconds / 1e6;
        rows.push({ what: `kernel test-run per packet, ${name}`, packets: k.packets, seconds: k.seconds, mpps: kernel });
      } else
        rows.push({ what: `kernel test-run per packet, ${name}`, packets: 0, seconds: 0, mpps: 0, note: `failed: ${r.stderr.trim()}` });
    } else
      rows.push({
        what: `kernel test-run per packet, ${name}`,
        packets: 0,
        seconds: 0,
        mpps: 0,
        note: built ? 'not root' : 'libbpf-dev or cc missing',
      });
    // the ratios the JIT issue names, from this run's own baselines
    const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(1)}x` : 'n/a');
    const tcpdump = t === undefined ? undefined : n / t / 1e6;
    for (const how of ['streamed', '--preload']) {
      rows.push({
        what: `  jit ${how} 1 worker vs kernel / tcpdump / interp.`,
        packets: 0,
        seconds: 0,
        mpps: jit[`${how}1`],
        note: `${ratio(jit[`${how}1`], kernel)} the kernel, ${ratio(jit[`${how}1`], tcpdump)} tcpdump, ${ratio(jit[`${how}1`], rows[at].mpps)} the interpreter`,
      });
    }
  }
  // two workers against one when the program does the work (about 0.6 µs a packet): the pipeline's own share is small
  const work = join(tmpdir(), 'bpfbox-xdp_work.o');
  const include = spawnSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).stdout?.trim();
  const clang = spawnSync('clang', [
    '-O2',
    '-g',
    '-target',
    'bpf',
    ...(include ? [`-I/usr/include/${include}`] : []),
    '-c',
    join(ROOT, 'bench', 'work', 'xdp_work.c'),
    '-o',
    work,
  ]);
  if (clang.status === 0) {
    const { one, two, vs } = inTurns(mixed, work, 'xdp_work', ['--preload']);
    rows.push({
      what: 'bpfbox replay, mixed, xdp_work (bench/work), --preload, 1 worker',
      packets: one.packets,
      seconds: one.seconds,
      mpps: one.mpps,
      note: one.note,
    });
    rows.push({
      what: 'bpfbox replay, mixed, xdp_work, --preload, 2 workers',
      packets: two.packets,
      seconds: two.seconds,
      mpps: two.mpps,
      note: `${two.note}, ${vs}`,
    });
  } else rows.push({ what: 'bpfbox replay, xdp_work', packets: 0, seconds: 0, mpps: 0, note: 'clang (BPF target) not installed' });
  let rss10M: number | undefined;
  if (options.big) {
    const big = join(dir, 'small64-10000000.pcap');
    if (!existsSync(big)) {
      mkdirSync(dir, { recursive: true });
      writeSynthCapture(big, { packets: 10_000_000, seed: 3, mix: 'small' });
    }
    const r = bpfboxReplay(big, obj, 'xdp_firewall', 2, ['--engine', 'jit']);
    rss10M = r.rss;
    rows.push({
      what: `bpfbox replay, 10M 64-byte (${Math.round(statSync(big).size / 1e6)} MB), 2 workers`,
      packets: r.packets,
      seconds: r.seconds,
      mpps: r.mpps,
      note: `peak RSS ${r.rss} MB`,
    });
    if (!process.env.BPFBOX_BENCH_KEEP) rmSync(big);
  }
  return { rows, rss10M };
}
