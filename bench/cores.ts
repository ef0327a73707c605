import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

/**
 * cores: what running two threads at once gives on this machine, the ceiling for the replay's
 * 2-worker figure. The same fixed work runs on one thread, then on two threads at once (each
 * doing all of it); parallel speedup = 2 * t(1 thread) / t(2 threads). Two loops: one bound by
 * a dependency chain (latency: a second hyperthread hides it), one by throughput (four
 * independent accumulators over an array in cache: what compiled eBPF looks like). On two real
 * cores both are about 2; on two hyperthreads of one core the throughput loop is not. Two walks
 * of memory, each thread over 512 MiB of its own (as each replay worker over its own receive
 * queue): one byte every 592 bytes (a packet's first bytes, at the mixed capture's mean packet
 * size), and every cache line (streaming); these are bound by the machine's memory, not its cores.
 */
export interface CoresBench {
  readonly loop: string;
  readonly oneMs: number;
  readonly twoMs: number;
  readonly speedup: number;
}

type Kind = 'latency' | 'throughput' | 'packets' | 'lines';

/** The memory walks' buffer, one per thread, written before the clock (so its pages are in). */
const WALK_BYTES = 512 << 20;
let walkBuffer: Uint8Array | undefined;

function work(kind: Kind): number {
  if (kind === 'packets' || kind === 'lines') {
    const a = walkBuffer!;
    const stride = kind === 'packets' ? 592 : 64;
    let s = 0;
    for (let r = 0; r < 2; r++) for (let i = 0; i < a.length; i += stride) s = (s + a[i]) | 0;
    return s;
  }
  if (kind === 'latency') {
    let x = 0;
    for (let i = 0; i < 2e8; i++) x = (Math.imul(x, 31) + i) | 0;
    return x;
  }
  const a = new Int32Array(4096).map((_, i) => i * 7);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let r = 0; r < 60_000; r++) {
    for (let i = 0; i < 4096; i += 4) {
      s0 = (s0 + a[i] * 3) | 0;
      s1 = (s1 ^ a[i + 1]) | 0;
      s2 = (s2 + (a[i + 2] << 1)) | 0;
      s3 = (s3 - a[i + 3]) | 0;
    }
  }
  return s0 + s1 + s2 + s3;
}

if (!isMainThread && workerData?.cores) {
  // a worker: wait for the start, time the work alone (not the thread's start-up)
  if (workerData.cores === 'packets' || workerData.cores === 'lines') walkBuffer = new Uint8Array(WALK_BYTES).fill(1);
  parentPort!.once('message', () => {
    const t = process.hrtime.bigint();
    work(workerData.cores);
    parentPort!.postMessage(Number(process.hrtime.bigint() - t) / 1e6);
  });
  parentPort!.postMessage('ready');
}

async function timed(kind: Kind, threads: number): Promise<number> {
  const workers = Array.from({ length: threads }, () => new Worker(new URL(import.meta.url), { workerData: { cores: kind } }));
  await Promise.all(workers.map((w) => new Promise((ok) => w.once('message', ok))));
  const times = await Promise.all(workers.map((w) => new Promise<number>((ok) => (w.once('message', ok), w.postMessage('go')))));
  await Promise.all(workers.map((w) => w.terminate()));
  return Math.max(...times);
}

/** coresBenchmarks: each loop on one thread and on two at once, best of 3. */
export async function coresBenchmarks(): Promise<CoresBench[]> {
  const out: CoresBench[] = [];
  const names: Record<Kind, string> = {
    latency: 'latency-bound (imul chain)',
    throughput: 'throughput-bound (4 accumulators)',
    packets: 'memory: a byte every 592 B',
    lines: 'memory: every 64 B line',
  };
  for (const kind of ['latency', 'throughput', 'packets', 'lines'] as const) {
    let one = Infinity;
    let two = Infinity;
    for (let r = 0; r < 3; r++) {
      one = Math.min(one, await timed(kind, 1));
      two = Math.min(two, await timed(kind, 2));
    }
    out.push({ loop: names[kind], oneMs: one, twoMs: two, speedup: (2 * one) / two });
  }
  return out;
}
