import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { HOST_A, HOST_C, stopChild, type Topology } from '../../test/support/topology.js';
import { framesPcap, trafgenConfig, udpFrames } from './frames.js';

/** FLOWS: UDP flows (source ports) in the offered traffic. */
export const FLOWS = 64;

/**
 * Generator: a traffic generator run in nsA on a0, sending the bench's UDP frames of one size
 * at `pps` (undefined: as fast as it can) until stopped. The table holds the two Debian ones;
 * the bench measures both at top speed and uses the faster.
 */
export interface Generator {
  readonly name: string;
  /** the tool's command line in nsA; `files` are from `prepare` */
  command(size: number, pps: number | undefined, files: GeneratorFiles): string[];
}

/** GeneratorFiles: per frame size, the trafgen configuration and the pcap (FLOWS frames, repeated). */
export type GeneratorFiles = ReadonlyMap<number, { readonly cfg: string; readonly pcap: string }>;

/** GENERATORS: trafgen (netsniff-ng; mmap'ed TX ring, qdisc bypassed, 1 process) and tcpreplay (the pcap preloaded, looped). */
export const GENERATORS: readonly Generator[] = [
  {
    name: 'trafgen',
    // -P 1: one process (the other core forwards); --no-sock-mem, -Q: leave the host's sysctls and IRQs alone; -C: no CPU stats
    command: (size, pps, f) => [
      'trafgen',
      '-o',
      'a0',
      '-i',
      f.get(size)!.cfg,
      '-n',
      '0',
      '-P',
      '1',
      '--no-sock-mem',
      '-Q',
      '-C',
      ...(pps ? ['-b', `${pps}pps`] : []),
    ],
  },
  {
    name: 'tcpreplay',
    command: (size, pps, f) => [
      'tcpreplay',
      '-i',
      'a0',
      '-q',
      '-K',
      '--loop',
      '0',
      ...(pps ? ['--pps', String(pps)] : ['--topspeed']),
      f.get(size)!.pcap,
    ],
  },
];

/** prepareFrames writes, for each size, the trafgen configuration and a pcap of the FLOWS frames (repeated 1000 times) into `dir`. */
export function prepareFrames(dir: string, sizes: readonly number[]): GeneratorFiles {
  const spec = { srcMac: HOST_A.mac, dstMac: HOST_C.mac, srcIp: HOST_A.ip, dstIp: HOST_C.ip };
  const files = new Map<number, { cfg: string; pcap: string }>();
  for (const size of sizes) {
    const frames = udpFrames(size, FLOWS, spec);
    const f = { cfg: join(dir, `udp-${size}.cfg`), pcap: join(dir, `udp-${size}.pcap`) };
    trafgenConfig(f.cfg, frames);
    framesPcap(f.pcap, frames, 1000);
    files.set(size, f);
  }
  return files;
}

/** Point: one measured window of offered traffic; rates in packets per second. */
export interface Point {
  /** a0's tx_packets rate (what the generator got onto the wire) */
  readonly sentPps: number;
  /** b0's rx_packets rate (what reached the forwarder) */
  readonly offeredPps: number;
  /** c0's rx_packets rate (what was forwarded) */
  readonly forwardedPps: number;
  /** 1 - forwarded / offered, counted over the whole run (b0 and c0 from before the generator starts until the forwarder drains) */
  readonly loss: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * offer runs the generator at `pps` and measures one steady window: it waits (at most 10 s)
 * until a0 starts sending, lets `warmMs` pass, reads the counters of a0, b0 and c0, waits
 * `windowMs`, reads them again in the same order (each counter's rate over its own interval),
 * then stops the generator.
 */
export async function offer(
  t: Topology,
  gen: Generator,
  size: number,
  pps: number | undefined,
  o: { files: GeneratorFiles; warmMs: number; windowMs: number },
): Promise<Point> {
  const counters = () => ({ b0: t.linkStats(t.nsB, 'b0').rxPackets, c0: t.linkStats(t.nsC, 'c0').rxPackets });
  const base = counters();
  const child: ChildProcess = t.spawn(t.nsA, gen.command(size, pps, o.files), { stdio: 'ignore' });
  let window: number[];
  try {
    const start = t.linkStats(t.nsA, 'a0').txPackets;
    const deadline = Date.now() + 10_000;
    while (t.linkStats(t.nsA, 'a0').txPackets === start) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${gen.name} did not start sending on a0`);
      await sleep(20);
    }
    await sleep(o.warmMs);
    const read = () =>
      (
        [
          [t.nsA, 'a0', 'txPackets'],
          [t.nsB, 'b0', 'rxPackets'],
          [t.nsC, 'c0', 'rxPackets'],
        ] as const
      ).map(([ns, dev, key]) => ({ n: t.linkStats(ns, dev)[key], at: performance.now() }));
    const before = read();
    await sleep(o.windowMs);
    window = read().map((a, i) => (a.n - before[i].n) / ((a.at - before[i].at) / 1000));
  } finally {
    await stopChild(child, 'SIGINT');
  }
  // loss over the whole run, once the forwarder has drained (c0 still for 100 ms; at most 2 s)
  let end = counters();
  for (let i = 0; i < 20; i++) {
    await sleep(100);
    const now = counters();
    if (now.c0 === end.c0) break;
    end = now;
  }
  const offered = end.b0 - base.b0;
  return {
    sentPps: window[0],
    offeredPps: window[1],
    forwardedPps: window[2],
    loss: offered ? Math.max(0, 1 - (end.c0 - base.c0) / offered) : 0,
  };
}
