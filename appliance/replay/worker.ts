import type { EngineName } from '../../vm/engine.js';
import { parentPort, workerData } from 'node:worker_threads';
import { type IngressResult, skbIngress, xdpIngress } from '../../hooks/ingress.js';
import { ProgType } from '../../hooks/progType.js';
import { HookRuntime } from '../../hooks/runtime.js';
import { AddressSpace } from '../../vm/memory.js';
import { engineByName } from '../engines.js';
import { importProgs } from './progTransfer.js';
import { type BatchRequest, type BatchResult, IN_FIELDS, In, OUT_FIELDS, Out, OutFlag, type PacketExtra, type WorkerInit } from './protocol.js';

// A replay worker: one emulated CPU. It attaches to the shared memory, rebuilds the loaded
// programs, and runs each batch of packets the main thread placed in its ingress buffer.
const init = workerData as WorkerInit;
const space = new AddressSpace(init.space);
const progs = importProgs(space, init.progs);
const prog = progs.get(init.entry)!;
let now = 0n;
const traces: string[] = [];
const rt = new HookRuntime({ memory: space, progs }, {
  cpu: init.cpu, regions: init.regions, routes: init.routes, neighbours: init.neighbours, devices: init.devices, ifindexes: init.ifindexes,
  engine: init.engine ? engineByName(init.engine as EngineName) : undefined,
  seed: init.deterministic ? (init.seed ^ Math.imul(init.cpu + 1, 0x9e3779b1)) >>> 0 : undefined,
  clock: init.deterministic ? () => now : undefined,
  trace: init.trace ? (line) => traces.push(line) : undefined,
});
const run = prog.type === ProgType.BPF_PROG_TYPE_XDP ? xdpIngress : skbIngress;
const slot = { hardStart: 0, room: 0, len: 0, wireLen: 0, ifindex: init.ifindex, rxQueue: init.cpu, tstamp: undefined as bigint | undefined };

parentPort!.on('message', (req: BatchRequest) => {
  const n = req.packets.length / IN_FIELDS;
  const results = new Int32Array(n * OUT_FIELDS);
  const extras: PacketExtra[] = [];
  const samples: number[] = [];
  const p = req.packets;
  space.refresh();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const b = i * IN_FIELDS;
    slot.hardStart = p[b + In.HARD_START] || rt.frame.start;
    slot.room = p[b + In.HARD_START] ? p[b + In.ROOM] : rt.frame.size;
    slot.len = p[b + In.LEN];
    slot.wireLen = p[b + In.WIRE_LEN];
    const src = p[b + In.SRC];
    if (src) space.u8.copyWithin(slot.hardStart + 256, src, src + slot.len);
    if (init.deterministic) slot.tstamp = now = BigInt(p[b + In.TS_SEC] >>> 0) * 1_000_000_000n + BigInt(p[b + In.TS_NSEC]);
    const o = i * OUT_FIELDS;
    let r: IngressResult;
    try {
      if ((i & 63) === 0) {
        const t = process.hrtime.bigint();
        r = run(rt, prog, slot);
        samples.push(Number(process.hrtime.bigint() - t));
      } else r = run(rt, prog, slot);
    } catch (e) {
      results[o + Out.FLAGS] = OutFlag.FAULT | OutFlag.EXTRA;
      results[o + Out.START] = slot.hardStart + 256;
      results[o + Out.LEN] = slot.len;
      extras.push({ i, fault: e instanceof Error ? e.message : String(e) });
      continue;
    }
    results[o + Out.RETVAL] = r.retval;
    results[o + Out.START] = r.start;
    results[o + Out.LEN] = r.len;
    if (r.redirect || r.tail || r.clones) {
      results[o + Out.FLAGS] = OutFlag.EXTRA;
      extras.push({ i, tail: r.tail, clones: r.clones?.length, redirect: r.redirect ? describeRedirect(r.redirect) : undefined });
    }
  }
  const res: BatchResult = { id: req.id, results, extras, traces: traces.splice(0), ns: Number(process.hrtime.bigint() - t0), samples };
  parentPort!.postMessage(res, [results.buffer]);
});

function describeRedirect(r: NonNullable<IngressResult['redirect']>): string {
  if ('kind' in r) return r.kind === 'map' ? `map id ${r.mapId} key ${r.target}` : `ifindex ${r.target}`;
  return `ifindex ${r.ifindex}${r.ingress ? ' ingress' : ''}`;
}
