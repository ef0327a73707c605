import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { cpuSeconds } from './cost.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOST_C, stopChild, type Topology } from '../../test/support/topology.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'appliance', 'cli', 'main.js');
/** OBJ_DIR: bench/live's committed XDP objects (built by bench/live/Makefile). */
const OBJ_DIR = join(ROOT, 'bench', 'live');

/** Running: a forwarder between b0 and b1 in nsB; `stop` undoes it and may say something about the run. */
export interface Running {
  stop(): Promise<string | undefined>;
  /** The forwarder's own processes (a userspace forwarder), for its CPU cost per frame. */
  readonly pids?: readonly number[];
}

/**
 * Forwarder: one way of moving frames between b0 and b1 in nsB. `start` returns the running
 * forwarder, or a string: why it is not available here (a row then says so).
 */
export interface Forwarder {
  readonly name: string;
  start(t: Topology): Promise<Running | string>;
}

/** KernelXdp: the in-kernel XDP programs, loaded and pinned once per bench run (bpftool), and removed by `close`. */
export class KernelXdp {
  readonly #pin = `/sys/fs/bpf/bpfbox-bench-${process.pid}`;

  /** load pins xdp_fwd (with its devmap tx_port) and xdp_pass, or says why it cannot. */
  load(): string | undefined {
    if (spawnSync('bpftool', ['version']).error) return 'bpftool is not installed';
    mkdirSync(this.#pin, { recursive: true });
    for (const [name, extra] of [
      ['xdp_fwd', ['pinmaps', `${this.#pin}/maps`]],
      ['xdp_pass', []],
    ] as const) {
      const r = spawnSync('bpftool', ['prog', 'load', join(OBJ_DIR, `${name}.o`), `${this.#pin}/${name}`, 'type', 'xdp', ...extra], {
        encoding: 'utf8',
      });
      if (r.status !== 0) return `bpftool prog load ${name}.o: ${r.stderr.trim().split('\n')[0]}`;
    }
    return undefined;
  }

  get pin(): string {
    return this.#pin;
  }

  close(): void {
    rmSync(this.#pin, { recursive: true, force: true });
  }
}

/** inNetns runs a command in `ns`'s network namespace only (nsenter --net): the host's /sys/fs/bpf pins stay visible. */
function inNetns(ns: string, cmd: readonly string[]): string | undefined {
  const r = spawnSync('nsenter', [`--net=/run/netns/${ns}`, ...cmd], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? undefined : `${cmd.join(' ')}: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`;
}

const le32 = (n: number): string[] => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].map(String);

/**
 * kernelXdp: xdp_fwd on b0 and b1 (bpf_redirect_map over the devmap, b0 <-> b1 by ifindex) in
 * `mode`. Native veth mode (xdpdrv) delivers a redirected frame only when the target veth's
 * peer can take XDP frames: an XDP program on it (here xdp_pass on a0 and c0) or GRO on (NAPI);
 * without either the frames are dropped (measured: 0 forwarded).
 */
export function kernelXdp(xdp: KernelXdp, mode: 'xdpgeneric' | 'xdpdrv'): Forwarder {
  return {
    name: `kernel XDP ${mode === 'xdpgeneric' ? 'generic' : 'native'}, xdp_fwd (devmap)`,
    async start(t) {
      const ifindex = (dev: string) => JSON.parse(t.exec(t.nsB, ['ip', '-j', 'link', 'show', dev]).stdout)[0].ifindex as number;
      const [b0, b1] = [ifindex('b0'), ifindex('b1')];
      // devmap values are resolved in the updating process's network namespace: update from nsB
      const map = `${xdp.pin}/maps/tx_port`;
      const peers: [string, string][] =
        mode === 'xdpdrv'
          ? [
              [t.nsA, 'a0'],
              [t.nsC, 'c0'],
            ]
          : [];
      const steps: [string, string[]][] = [
        [t.nsB, ['bpftool', 'map', 'update', 'pinned', map, 'key', ...le32(b0), 'value', ...le32(b1)]],
        [t.nsB, ['bpftool', 'map', 'update', 'pinned', map, 'key', ...le32(b1), 'value', ...le32(b0)]],
        ...peers.map(([ns, dev]): [string, string[]] => [ns, ['ip', 'link', 'set', 'dev', dev, mode, 'pinned', `${xdp.pin}/xdp_pass`]]),
        ...['b0', 'b1'].map((dev): [string, string[]] => [t.nsB, ['ip', 'link', 'set', 'dev', dev, mode, 'pinned', `${xdp.pin}/xdp_fwd`]]),
      ];
      const undo = async () => {
        for (const dev of ['b0', 'b1']) inNetns(t.nsB, ['ip', 'link', 'set', 'dev', dev, mode, 'off']);
        for (const [ns, dev] of peers) inNetns(ns, ['ip', 'link', 'set', 'dev', dev, mode, 'off']);
        return undefined;
      };
      for (const [ns, cmd] of steps) {
        const why = inNetns(ns, cmd);
        if (why) {
          await undo();
          return why;
        }
      }
      return { stop: undo };
    },
  };
}

/** LINUX_BRIDGE: br0 over b0 and b1 (the kernel's bridge; the ceiling of this topology). */
export const LINUX_BRIDGE: Forwarder = {
  name: 'Linux bridge (br0 over b0, b1)',
  async start(t) {
    t.bridge();
    return { stop: async () => (t.unbridge(), undefined) };
  },
};

/**
 * NETSNIFF_NG: `netsniff-ng --in b0 --out b1` and the reverse, mmap'ed rings, no program.
 * Flags: -s silent; --no-sock-mem and -Q leave the host's sysctls and IRQs alone; -S 32MiB
 * (its default ring size for a veth fails: "Cannot allocate RX_RING!"); -t others (only frames
 * for other hosts: without it each one reads the frames the other sends and they loop);
 * -k 1000 (TX ring flushed every 1000 us instead of 10: measured faster here, 0.28 against
 * 0.004 Mpps of 64-byte frames at top speed).
 */
export const NETSNIFF_NG: Forwarder = {
  name: 'netsniff-ng --in b0 --out b1 (and back)',
  async start(t) {
    if (spawnSync('netsniff-ng', ['-v']).error) return 'netsniff-ng is not installed (Debian: netsniff-ng)';
    const flags = ['-s', '--no-sock-mem', '-Q', '-S', '32MiB', '-t', 'others', '-k', '1000'];
    const kids = [
      t.spawn(t.nsB, ['netsniff-ng', ...flags, '--in', 'b0', '--out', 'b1'], { stdio: 'ignore' }),
      t.spawn(t.nsB, ['netsniff-ng', ...flags, '--in', 'b1', '--out', 'b0'], { stdio: 'ignore' }),
    ];
    return {
      pids: kids.map((k) => k.pid!),
      stop: async () => {
        for (const k of kids) await stopChild(k, 'SIGINT');
        return undefined;
      },
    };
  },
};

/**
 * bpfboxLive: `bpfbox live --dev b0 --peer b1 --obj OBJ --prog PROG --workers N --json` in nsB
 * (offloads at its default: off on b0 and b1 while it runs). Not available when the command
 * exits before forwarding (it does not exist yet, or the native module is missing): the row
 * gives its last line of stderr.
 */
export function bpfboxLive(label: string, obj: string, prog: string, workers: number): Forwarder {
  return {
    name: `bpfbox live, ${label}, ${workers} worker${workers > 1 ? 's' : ''}`,
    async start(t) {
      const args = [CLI, 'live', '--dev', 'b0', '--peer', 'b1', '--obj', obj, '--prog', prog, '--workers', String(workers), '--json'];
      const child = t.spawn(t.nsB, [process.execPath, ...args, '--duration', '600']);
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      // ready once a ping a0 -> c0 comes back (with --json it prints nothing until exit); at most 20 s
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
          await stopChild(child, 'SIGKILL');
          const last = stderr.trim().split('\n').pop() || `exited ${child.exitCode ?? child.signalCode}`;
          return `bpfbox live did not start${Date.now() > deadline ? ' forwarding in 20 s' : ''}: ${last}`;
        }
        if (t.exec(t.nsA, ['ping', '-c', '1', '-W', '0.5', '-q', HOST_C.ip], { check: false, timeoutMs: 5000 }).status === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // the process's CPU time (all its threads) from here to the stop: frames per CPU second, the
      // forwarder's cost whatever the generator manages (`ip netns exec` execs node: the pid is node's)
      const cpu0 = cpuSeconds([child.pid]);
      return {
        pids: [child.pid!],
        stop: async () => {
          const cpu = cpuSeconds([child.pid]) - cpu0;
          await stopChild(child, 'SIGINT');
          try {
            const s = JSON.parse(stdout);
            const ifs = (s.interfaces ?? {}) as Record<string, Record<string, number>>;
            const keys = ['rx', 'forwarded', 'dropped', 'kernel_drops', 'sent', 'send_errors'];
            const frames = Object.values(ifs).reduce((n, c) => n + c.rx, 0);
            return (
              Object.entries(ifs)
                .map(([name, c]) => `${name} ${keys.map((k) => `${k} ${c[k]}`).join(' ')}`)
                .join('; ') +
              `; over the whole run (start-up, idle polls, paced points): ${(frames / Math.max(cpu, 0.01) / 1e6).toFixed(2)} M frames per CPU second`
            );
          } catch {
            return `no --json summary at exit: ${stderr.trim().split('\n').pop() ?? ''}`;
          }
        },
      };
    },
  };
}

/** bpfboxObjects: the programs bpfbox live runs in the bench: PASS-all and the corpus firewall. */
export const BPFBOX_PROGRAMS = [
  { label: 'PASS-all (xdp_pass)', obj: join(OBJ_DIR, 'xdp_pass.o'), prog: 'xdp_pass' },
  { label: 'lpm_firewall.o', obj: join(ROOT, 'bpf', 'lpm_firewall.o'), prog: 'xdp_firewall' },
] as const;
