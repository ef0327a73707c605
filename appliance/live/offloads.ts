import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../uapi/userError.js';
import { pidAlive, writeFileAtomic } from '../bpffs/atomicFile.js';

/**
 * Offloads turned off on a bridged interface (`offloads: off`, as Suricata's AF_PACKET IPS
 * does), by ethtool's feature names: with them on, the kernel hands a packet socket frames
 * merged past the MTU (GRO, LRO) and frames whose checksum the device was to fill in, and
 * sends what the socket gives it the same way (TSO, GSO, tx checksumming).
 */
export const OFFLOAD_FEATURES = {
  'generic-receive-offload': 'gro',
  'large-receive-offload': 'lro',
  'tcp-segmentation-offload': 'tso',
  'generic-segmentation-offload': 'gso',
  'tx-checksumming': 'tx',
} as const;
type Feature = keyof typeof OFFLOAD_FEATURES;

/** OffloadsError: ethtool missing or refusing: the line says which interface and what to do. */
export class OffloadsError extends UserError {}

/** SavedOffloads: an interface's features as they were before bpfbox changed them, kept on disk until restored. */
interface SavedOffloads {
  readonly dev: string;
  readonly pid: number;
  readonly changed: Partial<Record<Feature, 'on' | 'off'>>;
}

/**
 * The state directory: one file per interface whose offloads are off, named by the network
 * namespace (its inode: the same name may be in several) and the interface, so that the
 * next start after a SIGKILL finds and restores what a dead bpfbox left off.
 */
export function offloadStateDir(): string {
  return process.env.BPFBOX_RUN_DIR ?? '/run/bpfbox';
}
const netnsId = () => statSync('/proc/self/ns/net').ino;
const stateFile = (dev: string) => join(offloadStateDir(), `offloads-${netnsId()}-${dev}.json`);

function ethtool(args: string[], dev: string): string {
  const r = spawnSync('ethtool', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT')
    throw new OffloadsError(
      `--offloads off needs ethtool to turn ${dev}'s offloads off (apt-get install -y ethtool), or use --offloads passthrough`,
    );
  if (r.status !== 0) throw new OffloadsError(`ethtool ${args.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
  return r.stdout;
}

/** readOffloads: the features of OFFLOAD_FEATURES as `ethtool -k` shows them (on/off; `[fixed]` ones cannot change). */
export function readOffloads(dev: string): Map<Feature, { on: boolean; fixed: boolean }> {
  const out = ethtool(['-k', dev], dev);
  const m = new Map<Feature, { on: boolean; fixed: boolean }>();
  for (const line of out.split('\n')) {
    const x = /^\s*([a-z0-9-]+): (on|off)( \[fixed\])?/.exec(line);
    if (x && x[1] in OFFLOAD_FEATURES) m.set(x[1] as Feature, { on: x[2] === 'on', fixed: x[3] !== undefined });
  }
  return m;
}

/**
 * offloadsOff turns dev's offloads off, writing down first what it changes; it returns what
 * to say in the log. `restoreOffloads` puts them back.
 */
export function offloadsOff(dev: string): string {
  const before = readOffloads(dev);
  const changed: SavedOffloads['changed'] = {};
  for (const [f, s] of before) if (s.on && !s.fixed) changed[f] = 'on';
  const names = Object.keys(changed) as Feature[];
  if (!names.length) return `${dev}: offloads already off`;
  mkdirSync(offloadStateDir(), { recursive: true });
  writeFileAtomic(stateFile(dev), JSON.stringify({ dev, pid: process.pid, changed } satisfies SavedOffloads) + '\n');
  ethtool(['-K', dev, ...names.flatMap((f) => [OFFLOAD_FEATURES[f], 'off'])], dev);
  return `${dev}: turned off ${names.map((f) => OFFLOAD_FEATURES[f]).join(', ')} (restored at exit)`;
}

/** restoreOffloads puts back what offloadsOff changed on dev (if anything), and forgets it. */
export function restoreOffloads(dev: string): string | undefined {
  const file = stateFile(dev);
  let saved: SavedOffloads;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as SavedOffloads;
  } catch {
    return undefined;
  }
  const names = Object.keys(saved.changed) as Feature[];
  if (!existsSync(`/sys/class/net/${dev}`)) {
    rmSync(file, { force: true });
    return `${dev}: gone (its offloads went with it)`;
  }
  try {
    if (names.length) ethtool(['-K', dev, ...names.flatMap((f) => [OFFLOAD_FEATURES[f], saved.changed[f]!])], dev);
  } finally {
    rmSync(file, { force: true });
  }
  return `${dev}: offloads restored (${names.map((f) => OFFLOAD_FEATURES[f]).join(', ')} on)`;
}

/**
 * leftOff: interfaces of this network namespace whose offloads a bpfbox that is gone (killed
 * before it could restore them) left off, with that process's pid: the next start reports
 * them and restores them.
 */
export function leftOff(): { dev: string; pid: number }[] {
  let files: string[];
  try {
    files = readdirSync(offloadStateDir());
  } catch {
    return [];
  }
  const prefix = `offloads-${netnsId()}-`;
  const found: { dev: string; pid: number }[] = [];
  for (const f of files) {
    if (!f.startsWith(prefix)) continue;
    try {
      const s = JSON.parse(readFileSync(join(offloadStateDir(), f), 'utf8')) as SavedOffloads;
      if (!pidAlive(s.pid)) found.push({ dev: s.dev, pid: s.pid });
    } catch {
      // a file being written (atomically) by a live bpfbox, or not ours
    }
  }
  return found;
}
