import { Worker } from 'node:worker_threads';
import type { BatchFailure, BatchRequest, BatchResult, WorkerInit } from './protocol.js';

/** WORKER_URL: the replay worker's module, beside this one (in dist/ and in the CLI's bundle). */
const WORKER_URL = new URL('./worker.js', import.meta.url);

/**
 * StartedWorkers: replay workers started before their programs exist, so that a thread's own
 * start (Node's bootstrap, loading the worker's modules: a few hundred ms) overlaps the main
 * thread's loading of the object and its verifier. Each waits for its WorkerInit as its first
 * message; a WorkerPool given them sends it. What is never given to a pool must be stopped.
 */
export class StartedWorkers {
  readonly workers: readonly Worker[];
  /** Why a worker ended before a pool took it, by index (a pool taking it fails at once). */
  readonly ended = new Map<number, Error>();
  #taken = false;

  constructor(n: number) {
    this.workers = Array.from({ length: n }, () => new Worker(WORKER_URL, { workerData: null }));
    this.workers.forEach((w, i) => {
      w.on('error', (e) => this.ended.set(i, e));
      w.on('exit', (code) => this.ended.has(i) || this.ended.set(i, new Error(`exited with code ${code}`)));
    });
  }

  /** take hands the workers to one pool (once). */
  take(n: number): readonly Worker[] {
    if (this.#taken || n !== this.workers.length) throw new Error(`${this.workers.length} started workers, a pool of ${n}`);
    this.#taken = true;
    return this.workers;
  }

  /** stop ends workers no pool took (a load that failed). */
  async stop(): Promise<void> {
    if (!this.#taken) await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * WorkerPool: one worker thread per emulated CPU. Batches sent to a worker queue up and come
 * back in the order sent (a worker runs one at a time), so a pipeline can keep the next batch
 * waiting. A worker that dies (an error outside a program run) fails every batch it was given;
 * closing the pool is not a death (see close).
 */
export class WorkerPool {
  readonly #workers: Worker[] = [];
  readonly #pending: { resolve: (r: BatchResult) => void; reject: (e: Error) => void }[][] = [];
  #failure?: Error;
  /** close() was called: the workers' exits (terminate() ends a thread with code 1) are not failures. */
  #closing = false;
  /** Settles when every worker has its programs ready to run (or one failed to start). */
  readonly ready: Promise<void>;

  /** `early`: workers started before the programs were loaded (they get their init as a message); else new ones. */
  constructor(inits: readonly WorkerInit[], early?: StartedWorkers) {
    const started: Promise<void>[] = [];
    const given = early?.take(inits.length);
    inits.forEach((init, w) => {
      const worker = given?.[w] ?? new Worker(WORKER_URL, { workerData: init });
      if (given) worker.postMessage(init);
      let ready!: () => void;
      let failed!: (e: Error) => void;
      started.push(new Promise<void>((ok, no) => ((ready = ok), (failed = no))));
      worker.on('message', (r: BatchResult | BatchFailure | 'ready') => {
        if (r === 'ready') return ready();
        const p = this.#pending[w].shift();
        if ('failed' in r) p?.reject(new Error(`replay worker ${w} (cpu ${init.cpu}) failed: ${r.failed}`));
        else p?.resolve(r);
      });
      const fail = (e: Error) => {
        // a pool closed while batches were in flight (a pass that failed, its error already on its way up) abandons
        // them: they never settle, instead of rejecting promises nobody awaits any more (an unhandled rejection)
        if (this.#closing) return;
        this.#failure ??= new Error(`replay worker ${w} (cpu ${init.cpu}) failed: ${e.message}`, { cause: e });
        for (const p of this.#pending[w].splice(0)) p.reject(this.#failure);
        failed(this.#failure);
      };
      worker.on('error', fail);
      worker.on('exit', (code) => code !== 0 && fail(new Error(`exited with code ${code}`)));
      const ended = early?.ended.get(w);
      if (ended) fail(ended);
      this.#workers.push(worker);
      this.#pending.push([]);
    });
    this.ready = Promise.all(started).then(() => undefined);
    // a failure before the first batch is reported by run(); this keeps it from going unhandled
    this.ready.catch(() => undefined);
  }

  get size(): number {
    return this.#workers.length;
  }

  /** run sends worker `w` a batch; the promise settles with its results. */
  run(w: number, req: BatchRequest): Promise<BatchResult> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending[w].push({ resolve, reject });
      this.#workers[w].postMessage(req);
    });
  }

  /** close ends the workers; batches still in flight never settle (close comes after a pass, or after its failure). */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}

/**
 * InlinePool: the emulated CPUs run on the calling thread, one after another, instead of on
 * worker threads: for a capture so short that starting threads (Node's bootstrap and the
 * workers' code, a few hundred ms) would be most of the replay. Each CPU is the same ReplayCpu
 * a worker runs, with its own cpu id, runtime and regions, so verdicts, per-CPU maps and the
 * flow → CPU split are those of the same number of workers; the CPUs take turns instead of
 * overlapping (a valid order of the kernel's: any interleaving is one).
 */
export class InlinePool {
  readonly #cpus: Promise<readonly { handle(req: BatchRequest): BatchResult }[]>;
  readonly ready: Promise<void>;
  readonly size: number;

  constructor(inits: readonly WorkerInit[]) {
    this.size = inits.length;
    // replayCpu.js (the engines, the batch walk) loads only for a replay that runs inline
    this.#cpus = import('./replayCpu.js').then(({ ReplayCpu }) => inits.map((i) => new ReplayCpu(i)));
    this.ready = this.#cpus.then(() => undefined);
    this.ready.catch(() => undefined);
  }

  async run(w: number, req: BatchRequest): Promise<BatchResult> {
    return (await this.#cpus)[w].handle(req);
  }

  async close(): Promise<void> {}
}
