import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../support/cli.js';

export { CLI };

/** tempState makes a fresh bpffs state directory. */
export const tempState = () => mkdtempSync(join(tmpdir(), 'bpfbox-bpffs-'));

/** bpfbox runs the CLI as a separate process and returns its output and exit code. */
export function bpfbox(state: string, ...args: string[]): { out: string; err: string; code: number } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, BPFBOX_BPFFS: state } });
  return { out: r.stdout, err: r.stderr, code: r.status ?? -1 };
}

/** startServe starts `bpfbox serve` and resolves once it listens. */
export function startServe(state: string): Promise<ChildProcess> {
  return new Promise((ok, fail) => {
    const p = spawn(process.execPath, [CLI, 'serve', '--flush-ms', '100'], {
      env: { ...process.env, BPFBOX_BPFFS: state },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr!.setEncoding('utf8');
    p.stderr!.on('data', (d: string) => {
      err += d;
      if (err.includes('listening on')) ok(p);
    });
    p.on('exit', (code) => fail(new Error(`serve exited with ${code}: ${err}`)));
  });
}

/** startServeConfig: `bpfbox serve --config` on a loopback port of its own, resolved once it says where. */
export function startServeConfig(config: string, state: string): Promise<{ p: ChildProcess; url: string; err: () => string }> {
  return new Promise((ok, fail) => {
    const p = spawn(process.execPath, [CLI, 'serve', '--config', config, '--metrics-addr', '127.0.0.1:0'], {
      env: { ...process.env, BPFBOX_BPFFS: state },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr!.setEncoding('utf8');
    p.stderr!.on('data', (d: string) => {
      err += d;
      const m = /metrics on (\S+),/.exec(err);
      if (m) ok({ p, url: m[1], err: () => err });
    });
    p.on('exit', (code) => fail(new Error(`serve exited with ${code}: ${err}`)));
  });
}
