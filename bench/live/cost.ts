import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { type Topology, stopChild } from '../../test/support/topology.js';
import type { Generator, GeneratorFiles } from './generator.js';

/** cpuSeconds: processes' user + system CPU time so far, all threads (/proc/PID/stat utime + stime, in ticks of 1/100 s). */
export function cpuSeconds(pids: readonly (number | undefined)[]): number {
  let s = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // after the command name: state is field 3, utime field 14, stime 15
      const after = f.slice(f.lastIndexOf(')') + 2).split(' ');
      s += (Number(after[11]) + Number(after[12])) / 100;
    } catch {
      // gone
    }
  }
  return s;
}

/** Cost: frames a userspace forwarder moved per CPU second of its own processes. */
export interface Cost {
  readonly frames: number;
  readonly cpuSeconds: number;
  readonly framesPerCpuSecond: number;
}

/**
 * forwardingCost: what a frame costs a userspace forwarder, whatever rate the generator
 * manages on this 2-core machine: the forwarder's threads pinned to CPU 0 (taskset -a), the
 * generator at top speed on CPU 1, 64-byte frames for `ms`; frames = what c0 received, CPU =
 * the forwarder's processes' CPU time over the same window. The kernel's work for a frame the
 * forwarder sends (the next veth's receive path) is in its CPU time too, as on a real NIC it
 * would not be.
 */
export async function forwardingCost(
  t: Topology,
  gen: Generator,
  files: GeneratorFiles,
  pids: readonly number[],
  ms = 3000,
): Promise<Cost> {
  for (const pid of pids) spawnSync('taskset', ['-a', '-p', '-c', '0', String(pid)], { stdio: 'ignore' });
  const child = t.spawn(t.nsA, ['taskset', '-c', '1', ...gen.command(64, undefined, files)], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const c0 = t.linkStats(t.nsC, 'c0').rxPackets;
    const cpu0 = cpuSeconds(pids);
    await new Promise((r) => setTimeout(r, ms));
    const frames = t.linkStats(t.nsC, 'c0').rxPackets - c0;
    const cpu = cpuSeconds(pids) - cpu0;
    return { frames, cpuSeconds: cpu, framesPerCpuSecond: cpu > 0 ? frames / cpu : 0 };
  } finally {
    await stopChild(child, 'SIGINT');
    for (const pid of pids) spawnSync('taskset', ['-a', '-p', '-c', '0-1', String(pid)], { stdio: 'ignore' });
  }
}
