import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../test/support/paths.js';
import { type Ended } from './outcome.js';

/** CLI_BUNDLE: the installed command (`npm run build` makes it), the thing a user runs. */
export const CLI_BUNDLE = join(REPO_ROOT, 'dist', 'bundle', 'cli', 'main.js');

/** Limits bound one case: wall time (then SIGKILL to its process group) and V8's old-space size. */
export interface Limits {
  readonly timeoutMs: number;
  readonly heapMb: number;
}

/** CAPTURED: how much of stdout/stderr a case keeps (the start says what went wrong). */
const CAPTURED = 64 * 1024;

/** nodeArgs is the node command line of a case (also written into each reproducer). */
export function nodeArgs(args: readonly string[], limits: Limits): string[] {
  return [`--max-old-space-size=${limits.heapMb}`, CLI_BUNDLE, ...args];
}

/** runCli runs the installed CLI with `args` (see runNode). */
export function runCli(args: readonly string[], cwd: string, state: string, limits: Limits): Promise<Ended & { stdout: string }> {
  return runNode(nodeArgs(args, limits), cwd, state, limits);
}

/**
 * runNode runs node with `argv` once in `cwd` with its own bpffs state directory, bounded by
 * `limits` (the heap limit is in argv). The child leads a process group of its own so a hang
 * is killed whole (workers included).
 */
export function runNode(argv: readonly string[], cwd: string, state: string, limits: Limits): Promise<Ended & { stdout: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, BPFBOX_BPFFS: state };
    delete env.NODE_OPTIONS;
    const p = spawn(process.execPath, argv, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < CAPTURED) stdout += d;
    });
    p.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < CAPTURED) stderr += d;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, limits.timeoutMs);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      // a worker left in the group after the leader exited is the case's, not ours to keep
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        // the group is empty
      }
      resolve({ code, signal: timedOut ? null : signal, timedOut, stderr, stdout });
    });
  });
}
