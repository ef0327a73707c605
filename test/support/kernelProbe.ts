import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

/**
 * KernelProbe asks the running kernel's verifier about many small programs at once through
 * test/differential/c/ctx_probe.c (built into a temporary directory). `open` says why it cannot be
 * used here (not Linux, not root, no compiler), so a suite can skip saying so.
 */
export class KernelProbe {
  readonly #dir: string;
  readonly #tool: string;

  private constructor(dir: string) {
    this.#dir = dir;
    this.#tool = join(dir, 'ctx_probe');
  }

  static open(): KernelProbe | string {
    if (process.platform !== 'linux') return 'not Linux';
    if (process.getuid?.() !== 0) return 'not root (the kernel verifier is asked through BPF_PROG_LOAD, privileged mode)';
    const p = new KernelProbe(mkdtempSync(join(tmpdir(), 'bpfbox-probe-')));
    const cc = spawnSync('cc', ['-O2', '-o', p.#tool, join(REPO_ROOT, 'test', 'differential', 'c', 'ctx_probe.c')], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) {
      p.close();
      return `cannot build test/differential/c/ctx_probe.c: ${cc.error?.message ?? cc.stderr}`;
    }
    return p;
  }

  /**
   * ask loads each (program type, bytecode) and returns "ok" or "err ERRNO <last log line>" for
   * each; `insn` makes errors "err ERRNO @INSN <line>" (the last instruction the log shows),
   * `full` "err ERRNO <every line of the log, joined by |>"; `stats` "ok|err ERRNO <the log at
   * BPF_LOG_STATS (level 4): the error, the time, the stack depth and the processed line, joined by |>".
   */
  ask(programs: readonly (readonly [number, Uint8Array])[], mode: boolean | 'insn' | 'full' | 'stats' = false): string[] {
    const input = programs.map(([t, b]) => `${t} ${Buffer.from(b).toString('hex')}`).join('\n') + '\n';
    const flag = mode === 'full' ? ['-f'] : mode === 'stats' ? ['-l', '4'] : mode ? ['-i'] : [];
    const r = spawnSync(this.#tool, flag, { input, encoding: 'utf8', maxBuffer: 1 << 26 });
    const out = r.stdout.trim().split('\n');
    if (out.length !== programs.length) throw new Error(`ctx_probe answered ${out.length} of ${programs.length}: ${r.stderr}`);
    return out;
  }

  close(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/**
 * kernelProbeForSuite registers the suite's before/after hooks: open the probe (or skip the
 * suite, saying why, under `label`) and close it afterwards. Call the result inside a test.
 */
export function kernelProbeForSuite(label: string): () => KernelProbe {
  let probe: KernelProbe | undefined;
  before(function () {
    const p = KernelProbe.open();
    if (typeof p === 'string') {
      console.log(`  ${label}: SKIPPED: ${p}`);
      this.skip();
    }
    probe = p as KernelProbe;
  });
  after(() => probe?.close());
  return () => probe!;
}
