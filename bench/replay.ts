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
const CLI = join(ROOT, 'dist', 'appliance', 'cli.js');

function bpfboxReplay(file: string, obj: string, prog: string, workers: number): { mpps: number; seconds: number; packets: number; rss: number } {
  const r = spawnSync(process.execPath, [CLI, 'replay', file, '--obj', obj, '--prog', prog, '--workers', String(workers), '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`replay failed: ${r.stderr}`);
  const s = JSON.parse(r.stdout);
  return { mpps: s.mpps, seconds: s.seconds, packets: s.packets, rss: s.max_rss_mb };
}

function timed(cmd: string, args: string[]): number | undefined {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * replayBenchmarks: the 1M-packet mixed capture and the 1M 64-byte capture (generated
 * deterministically) replayed through the corpus firewall on 1 and 2 workers, next to, in the
 * same run, `tcpdump -r FILE -w /dev/null 'ip proto 17'` and (root with libbpf) the kernel
 * replaying the same file with one BPF_PROG_TEST_RUN per packet (bench/kreplay/kreplay.c).
 * With `big`, the peak RSS of replaying a 10M-packet file of 64-byte frames.
 */
export function replayBenchmarks(options: { packets?: number; big?: boolean } = {}): { rows: ReplayBench[]; rss10M?: number } {
  const dir = join(tmpdir(), 'bpfbox-bench-captures');
  const n = options.packets ?? 1_000_000;
  const { mixed, small } = existsSync(join(dir, `mixed-${n}.pcap`)) && existsSync(join(dir, `small64-${n}.pcap`)) ? { mixed: join(dir, `mixed-${n}.pcap`), small: join(dir, `small64-${n}.pcap`) } : genCaptures(dir, n);
  const obj = join(ROOT, 'bpf', 'lpm_firewall.o');
  const rows: ReplayBench[] = [];
  const kreplay = join(tmpdir(), 'bpfbox-kreplay');
  const built = spawnSync('cc', ['-O2', '-o', kreplay, join(ROOT, 'bench', 'kreplay', 'kreplay.c'), '-lbpf']).status === 0;
  const root = process.getuid?.() === 0;
  for (const [name, file] of [['mixed', mixed], ['64-byte', small]] as const) {
    for (const w of [1, 2]) {
      const r = bpfboxReplay(file, obj, 'xdp_firewall', w);
      rows.push({ what: `bpfbox replay, ${name}, ${w} worker${w > 1 ? 's' : ''}`, packets: r.packets, seconds: r.seconds, mpps: r.mpps, note: `peak RSS ${r.rss} MB` });
    }
    const t = timed('tcpdump', ['-r', file, '-w', '/dev/null', 'ip proto 17']);
    rows.push(t === undefined ? { what: `tcpdump -r, ${name}`, packets: n, seconds: 0, mpps: 0, note: 'tcpdump not installed' } : { what: `tcpdump -r ... 'ip proto 17', ${name}`, packets: n, seconds: t, mpps: n / t / 1e6 });
    if (built && root) {
      const r = spawnSync(kreplay, [obj, 'xdp_firewall', file], { encoding: 'utf8' });
      if (r.status === 0) {
        const k = JSON.parse(r.stdout);
        rows.push({ what: `kernel test-run per packet, ${name}`, packets: k.packets, seconds: k.seconds, mpps: k.packets / k.seconds / 1e6 });
      } else rows.push({ what: `kernel test-run per packet, ${name}`, packets: 0, seconds: 0, mpps: 0, note: `failed: ${r.stderr.trim()}` });
    } else rows.push({ what: `kernel test-run per packet, ${name}`, packets: 0, seconds: 0, mpps: 0, note: built ? 'not root' : 'libbpf-dev or cc missing' });
  }
  let rss10M: number | undefined;
  if (options.big) {
    const big = join(dir, 'small64-10000000.pcap');
    if (!existsSync(big)) {
      mkdirSync(dir, { recursive: true });
      writeSynthCapture(big, { packets: 10_000_000, seed: 3, mix: 'small' });
    }
    const r = bpfboxReplay(big, obj, 'xdp_firewall', 2);
    rss10M = r.rss;
    rows.push({ what: `bpfbox replay, 10M 64-byte (${Math.round(statSync(big).size / 1e6)} MB), 2 workers`, packets: r.packets, seconds: r.seconds, mpps: r.mpps, note: `peak RSS ${r.rss} MB` });
    if (!process.env.BPFBOX_BENCH_KEEP) rmSync(big);
  }
  return { rows, rss10M };
}
