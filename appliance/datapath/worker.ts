import './eagerWasm.js';
import { parentPort, workerData } from 'node:worker_threads';
import { type BatchFailure, type BatchRequest, type WorkerInit } from './protocol.js';
import { ReplayCpu } from './replayCpu.js';

// A replay worker: one emulated CPU. It attaches to the shared memory, rebuilds the loaded
// programs, and runs each batch of packets the main thread placed in its ingress buffer:
// a JIT-compiled XDP program whose helpers allow it many packets per call into WebAssembly
// (hooks/xdpBatch.ts), anything else one packet at a time (ReplayCpu).
// Started early (StartedWorkers), a worker has no workerData: its WorkerInit is the first message.
// (No top-level await: the installed worker is a CommonJS bundle, scripts/bundle.mjs.)
const start = (init: WorkerInit) => {
  const cpu = new ReplayCpu(init);
  parentPort!.on('message', (req: BatchRequest) => {
    let res;
    try {
      res = cpu.handle(req);
    } catch (e) {
      // the batch fails, not the worker (BatchFailure)
      const failure: BatchFailure = { id: req.id, failed: e instanceof Error ? e.message : String(e) };
      parentPort!.postMessage(failure);
      return;
    }
    parentPort!.postMessage(res, res.results ? [res.results.buffer as ArrayBuffer] : []);
  });
  parentPort!.postMessage('ready');
};
if (workerData) start(workerData as WorkerInit);
else parentPort!.once('message', start);
