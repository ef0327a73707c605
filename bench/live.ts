import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Topology } from '../test/support/topology.js';
import { BPFBOX_PROGRAMS, bpfboxLive, KernelXdp, kernelXdp, LINUX_BRIDGE, NETSNIFF_NG, type Forwarder } from './live/forwarders.js';
import { GENERATORS, offer, prepareFrames, type Generator, type Point } from './live/generator.js';
import { pingLatency, type Latency } from './live/latency.js';
import { type Cost, forwardingCost } from './live/cost.js';

/** SIZES: frame sizes offered (bytes handed to the generator, Ethernet header included, no FCS): minimum and full-MTU. */
const SIZES = [64, 1514] as const;
/**
 * RATES: offered rates in packets per second, undefined for top speed. No 1M: the paced
 * generators top out near 0.25 Mpps on this 2-core VM (trafgen -b sends one frame per syscall;
 * tcpreplay --pps about 0.23), so a 1M point would measure the generator; top speed goes past it.
 */
const RATES = [100_000, 300_000, undefined] as const;
/** PINGS: echoes per latency measurement (2 ms apart). */
const PINGS = 2000;
const WINDOW = { warmMs: 300, windowMs: 1000 };

/** LiveRow: one forwarder at one size and offered rate; `point` is missing when it could not be measured (`note` says why). */
export interface LiveRow {
  readonly forwarder: string;
  readonly size: number;
  readonly rate: number | undefined;
  readonly point?: Point;
  readonly note?: string;
}

/** LiveBench: the live section's figures, or `skip`: why it did not run. */
export interface LiveBench {
  readonly skip?: string;
  readonly generator: string;
  readonly rows: LiveRow[];
  readonly latency: { forwarder: string; latency?: Latency; note?: string }[];
  /** Userspace forwarders' CPU cost per frame (bench/live/cost.ts), one worker each. */
  readonly cost: { forwarder: string; cost: Cost }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** forwards: whether one ping a0 -> c0 comes back, tried up to 10 times (1 s each). */
async function forwards(t: Topology): Promise<boolean> {
  for (let i = 0; i < 10; i++) {
    if (t.exec(t.nsA, ['ping', '-c', '1', '-W', '1', '-q', '10.77.0.2'], { check: false, timeoutMs: 5000 }).status === 0) return true;
    await sleep(100);
  }
  return false;
}

/**
 * liveBenchmarks: the live section (issue 16). On the test topology (test/support/topology.ts),
 * a generator in nsA offers UDP frames to a0 at each size and rate; each forwarder in nsB moves
 * them from b0 to b1; c0 counts. The generator is the faster of trafgen and tcpreplay at top
 * speed through the Linux bridge, measured first. Root only.
 */
export async function liveBenchmarks(): Promise<LiveBench> {
  const tools = GENERATORS.map((g) => g.name);
  const why = Topology.available(['ping', 'nsenter']);
  if (why) return { skip: why, generator: '', rows: [], latency: [], cost: [] };
  const t = Topology.create('bench');
  const dir = mkdtempSync(join(tmpdir(), 'bpfbox-live-bench-'));
  const xdp = new KernelXdp();
  try {
    const files = prepareFrames(dir, SIZES);
    // the generator: the faster at top speed, 64-byte frames, through the Linux bridge
    const running = await LINUX_BRIDGE.start(t);
    const tried: string[] = [];
    let gen: Generator | undefined;
    let best = 0;
    for (const g of GENERATORS) {
      try {
        const p = await offer(t, g, 64, undefined, { files, ...WINDOW });
        tried.push(`${g.name} ${(p.sentPps / 1e6).toFixed(3)} Mpps`);
        if (p.sentPps > best) [gen, best] = [g, p.sentPps];
      } catch (e) {
        tried.push(`${g.name}: ${(e as Error).message}`);
      }
    }
    if (typeof running !== 'string') await running.stop();
    if (!gen)
      return { skip: `no generator works (${tools.join(', ')}): ${tried.join('; ')}`, generator: '', rows: [], latency: [], cost: [] };
    const generator = `${gen.name} (top speed, 64-byte, through the Linux bridge: ${tried.join(', ')})`;
    const xdpWhy = xdp.load();
    const unavailable = (name: string, note: string): Forwarder => ({ name, start: async () => note });
    const forwarders: Forwarder[] = [
      LINUX_BRIDGE,
      xdpWhy ? unavailable('kernel XDP generic', xdpWhy) : kernelXdp(xdp, 'xdpgeneric'),
      xdpWhy ? unavailable('kernel XDP native', xdpWhy) : kernelXdp(xdp, 'xdpdrv'),
      NETSNIFF_NG,
      ...BPFBOX_PROGRAMS.flatMap((p) => [1, 2].map((w) => bpfboxLive(p.label, p.obj, p.prog, w))),
    ];
    const rows: LiveRow[] = [];
    const latency: LiveBench['latency'] = [];
    const cost: LiveBench['cost'] = [];
    for (const f of forwarders) {
      const r = await f.start(t);
      if (typeof r === 'string') {
        rows.push({ forwarder: f.name, size: 0, rate: undefined, note: `not available: ${r}` });
        latency.push({ forwarder: f.name, note: `not available: ${r}` });
        continue;
      }
      let stopNote: string | undefined;
      try {
        if (!(await forwards(t))) {
          rows.push({ forwarder: f.name, size: 0, rate: undefined, note: 'not forwarding: no ping reply a0 -> c0 in 10 tries' });
          latency.push({ forwarder: f.name, note: 'not forwarding' });
          continue;
        }
        for (const size of SIZES)
          for (const rate of RATES) {
            try {
              rows.push({ forwarder: f.name, size, rate, point: await offer(t, gen, size, rate, { files, ...WINDOW }) });
            } catch (e) {
              rows.push({ forwarder: f.name, size, rate, note: `failed: ${(e as Error).message}` });
            }
          }
        latency.push({ forwarder: f.name, latency: pingLatency(t, PINGS) });
        if (r.pids && !/2 workers/.test(f.name)) cost.push({ forwarder: f.name, cost: await forwardingCost(t, gen, files, r.pids) });
      } finally {
        stopNote = await r.stop();
      }
      if (stopNote) rows.push({ forwarder: f.name, size: 0, rate: undefined, note: `at exit: ${stopNote}` });
    }
    return { generator, rows, latency, cost };
  } finally {
    t.cleanup();
    xdp.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** printLiveBenchmarks runs the section and prints its tables and ratios (bench/run.ts, or `node dist/bench/live.js`). */
export async function printLiveBenchmarks(): Promise<void> {
  console.log('live (issue 16): UDP frames from nsA through a forwarder in nsB to c0 (veth pairs; test/support/topology.ts)');
  const b = await liveBenchmarks();
  if (b.skip) {
    console.log(`  skipped: ${b.skip}`);
    return;
  }
  console.log(`generator: ${b.generator}`);
  const mpps = (x: number) => (x / 1e6).toFixed(3);
  console.log(
    `${'forwarder'.padEnd(44)} ${'bytes'.padStart(5)} ${'offered'.padStart(8)} ${'sent'.padStart(6)} ${'at b0'.padStart(6)} ${'fwd'.padStart(6)} ${'loss %'.padStart(7)}  note (rates in Mpps)`,
  );
  for (const r of b.rows) {
    const rate = r.rate === undefined ? 'top' : `${r.rate / 1000}k`;
    if (!r.point) {
      console.log(`${r.forwarder.padEnd(44)} ${(r.size ? String(r.size) : '').padStart(5)} ${(r.size ? rate : '').padStart(8)} ${r.note}`);
      continue;
    }
    const p = r.point;
    console.log(
      `${r.forwarder.padEnd(44)} ${String(r.size).padStart(5)} ${rate.padStart(8)} ${mpps(p.sentPps).padStart(6)} ${mpps(p.offeredPps).padStart(6)} ${mpps(p.forwardedPps).padStart(6)} ${(100 * p.loss).toFixed(2).padStart(7)}`,
    );
  }
  console.log('');
  console.log('forwarded at top speed, against netsniff-ng and the Linux bridge in the same run');
  for (const size of SIZES) {
    const top = (name: string) => b.rows.find((r) => r.forwarder === name && r.size === size && r.rate === undefined)?.point?.forwardedPps;
    const anchor = top(NETSNIFF_NG.name);
    const ceiling = top(LINUX_BRIDGE.name);
    for (const name of [...new Set(b.rows.map((r) => r.forwarder))]) {
      const v = top(name);
      if (v === undefined) continue;
      const vs = (x: number | undefined) => (x ? `${(v / x).toFixed(2)}x` : 'n/a');
      console.log(
        `  ${String(size).padStart(4)} B  ${name.padEnd(44)} ${mpps(v).padStart(6)} Mpps  ${vs(anchor)} netsniff-ng, ${vs(ceiling)} the bridge`,
      );
    }
  }
  console.log('');
  console.log(`latency: ping a0 -> c0, ${PINGS} echoes 2 ms apart, RTT in microseconds, against the Linux bridge in the same run`);
  const bridge = b.latency.find((l) => l.forwarder === LINUX_BRIDGE.name)?.latency;
  console.log(
    `${'forwarder'.padEnd(44)} ${'replies'.padStart(7)} ${'p50 us'.padStart(7)} ${'p99 us'.padStart(7)} ${'p50 vs bridge'.padStart(14)}`,
  );
  for (const l of b.latency) {
    if (!l.latency) {
      console.log(`${l.forwarder.padEnd(44)} ${l.note}`);
      continue;
    }
    const x = l.latency;
    const d = bridge ? x.p50Us - bridge.p50Us : NaN;
    const added = bridge ? `${d >= 0 ? '+' : ''}${d.toFixed(0)} us` : 'n/a';
    console.log(
      `${l.forwarder.padEnd(44)} ${String(x.received).padStart(7)} ${x.p50Us.toFixed(0).padStart(7)} ${x.p99Us.toFixed(0).padStart(7)} ${added.padStart(14)}`,
    );
  }
  console.log('');
  console.log(
    "cost: 64-byte frames forwarded (received at c0) per CPU second of the forwarder's own processes, pinned to CPU 0, the generator at top speed on CPU 1",
  );
  const anchor = b.cost.find((c) => c.forwarder === NETSNIFF_NG.name)?.cost;
  for (const { forwarder, cost } of b.cost) {
    const vs = anchor?.framesPerCpuSecond ? `${(cost.framesPerCpuSecond / anchor.framesPerCpuSecond).toFixed(2)}x netsniff-ng` : '';
    console.log(
      `${forwarder.padEnd(44)} ${(cost.framesPerCpuSecond / 1e6).toFixed(2).padStart(6)} M/CPU-s  (${cost.frames} frames, ${cost.cpuSeconds.toFixed(2)} CPU s)  ${vs}`,
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await printLiveBenchmarks();
