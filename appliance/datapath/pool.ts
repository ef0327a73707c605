import { Worker } from 'node:worker_threads';
import type { BatchRequest, BatchResult, WorkerInit } from './protocol.js';

/**
 * WorkerPool: one worker thread per emulated CPU. Batches sent to a worker queue up and come
 * back in the order sent (a worker runs one at a time), so a pipeline can keep the next batch
 * waiting. A worker that dies (an error outside a program run) fails every batch it was given.
 */
export class WorkerPool {
  readonly #workers: Worker[] = [];
  readonly #pending: { resolve: (r: BatchResult) => void; reject: (e: Error) => void }[][] = [];
  #failure?: Error;
  /** Settles when every worker has its programs ready to run (or one failed to start). */
  readonly ready: Promise<void>;

  constructor(inits: readonly WorkerInit[]) {
    const started: Promise<void>[] = [];
    inits.forEach((init, w) => {
      const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
      let ready!: () => void;
      let failed!: (e: Error) => void;
      started.push(new Promise<void>((ok, no) => ((ready = ok), (failed = no))));
      worker.on('message', (r: BatchResult | 'ready') => {
        if (r === 'ready') return ready();
        this.#pending[w].shift()?.resolve(r);
      });
      const fail = (e: Error) => {
        this.#failure ??= new Error(`replay worker ${w} (cpu ${init.cpu}) failed: ${e.message}`, { cause: e });
        for (const p of this.#pending[w].splice(0)) p.reject(this.#failure);
        failed(this.#failure);
      };
      worker.on('error', fail);
      worker.on('exit', (code) => code !== 0 && fail(new Error(`exited with code ${code}`)));
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

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
