import { createInterface } from 'node:readline';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { loadAfPacket, type HandleStats, type OpenOptions } from '../../appliance/live/native.js';

/**
 * afpacketProbe: the native module driven alone, run by test/live/afpacket.test.ts inside a
 * network namespace (`ip netns exec NS node dist/test/live/afpacketProbe.js '<json>'`).
 * Commands (one JSON argument):
 *   rx    {cmd, open: [{ifname, ...OpenOptions}], expect, deadlineMs, maxFrames?}: prints `ready`,
 *         then takes frames until `expect` of them, a `stop` line on stdin, or the deadline;
 *         prints one JSON line: every frame (hex, its handle's index, descriptor words, vnet
 *         header) grouped by rx call with the call's slotAt, and each handle's stats.
 *   send  {cmd, ifname, open, frames: [hex], vnet?: [hex]}: sends them in one send(); prints stats.
 *   bad   {cmd, ifname}: bad input; prints what each call threw.
 *   bench {cmd, rxIf, txIf, seconds}: rx from one handle, send each batch out of the other.
 * Every loop is bounded by a deadline.
 */
const arg = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const af = loadAfPacket();
const memory = new WebAssembly.Memory({ initial: 1024, maximum: 1024, shared: true }); // 64 MiB
const mem = new Uint8Array(memory.buffer);
const view = new DataView(memory.buffer);
const DESC_AT = 64 * 1024;
const SLOT_AT = 1 << 20;
const SLOT_END = mem.length;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const out = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);

const defaults: OpenOptions = {
  fanoutGroup: 0,
  ringFrames: 1024,
  frameSize: 2048,
  version: 2,
  offloads: 'off',
  qdiscBypass: false,
  promisc: false,
};

interface Batch {
  readonly slotAt: number;
  readonly frames: { h: number; hex: string; desc: number[]; vnet: string }[];
}

async function rx(): Promise<void> {
  const opens = arg.open as (Partial<OpenOptions> & { ifname: string })[];
  const handles = opens.map((o) => af.open(o.ifname, { ...defaults, ...o }));
  const expect = arg.expect as number;
  const maxFrames = (arg.maxFrames as number | undefined) ?? 256;
  const deadline = Date.now() + (arg.deadlineMs as number);
  let stop = false;
  createInterface({ input: process.stdin }).on('line', (l) => (stop ||= l.trim() === 'stop'));
  out('ready');
  const batches: Batch[] = [];
  let total = 0;
  while (!stop && total < expect && Date.now() < deadline) {
    const ready = af.poll(handles, 20);
    for (let i = 0; i < handles.length; i++) {
      if (!(ready & (1 << i))) continue;
      const n = af.rx(handles[i], mem, DESC_AT, maxFrames, SLOT_AT, SLOT_END);
      const frames: Batch['frames'] = [];
      for (let k = 0; k < n; k++) {
        const d = DESC_AT + 32 * k;
        const desc = Array.from({ length: 8 }, (_, w) => view.getUint32(d + 4 * w, true));
        const slot = desc[0];
        frames.push({ h: i, hex: hex(mem.subarray(slot + 256, slot + 256 + desc[2])), desc, vnet: hex(mem.subarray(slot, slot + 10)) });
      }
      if (n) batches.push({ slotAt: SLOT_AT, frames });
      total += n;
    }
    await yieldToLoop();
  }
  const stats = handles.map((h) => af.stats(h));
  handles.forEach((h) => af.close(h));
  out({ batches, stats });
}

function send(): void {
  const h = af.open(arg.ifname as string, { ...defaults, ...(arg.open as Partial<OpenOptions>) });
  const frames = (arg.frames as string[]).map((s) => Buffer.from(s, 'hex'));
  const vnets = (arg.vnet as string[] | undefined) ?? [];
  const list = new Int32Array(frames.length * 3);
  let at = SLOT_AT;
  frames.forEach((f, i) => {
    if (vnets[i]) mem.set(Buffer.from(vnets[i], 'hex'), at);
    mem.set(f, at + 256);
    list.set([at + 256, f.length, vnets[i] ? at : 0], 3 * i);
    at += 4096 * Math.ceil((f.length + 256) / 4096);
  });
  const sent = af.send(h, mem, list, frames.length);
  const stats = af.stats(h);
  af.close(h);
  out({ sent, stats });
}

function bad(): void {
  const caught = (f: () => unknown) => {
    try {
      f();
      return null;
    } catch (e) {
      const x = e as Error & { code?: string; errno?: number };
      return { name: x.name, code: x.code, errno: x.errno, message: x.message };
    }
  };
  const r: Record<string, unknown> = {};
  r.openNope = caught(() => af.open('nope0', defaults));
  r.ifindexNope = caught(() => af.ifindex('nope0'));
  r.ifindex = af.ifindex(arg.ifname as string);
  const h = af.open(arg.ifname as string, defaults);
  r.rxDescPast = caught(() => af.rx(h, mem, mem.length - 16, 4, SLOT_AT, SLOT_END));
  r.rxSlotsPast = caught(() => af.rx(h, mem, DESC_AT, 4, SLOT_AT, mem.length + 4096));
  mem.fill(0x5a, SLOT_AT, SLOT_AT + 64);
  r.sendPast = caught(() => af.send(h, mem, Int32Array.of(SLOT_AT, 64, 0, mem.length - 10, 64, 0), 2));
  r.sendVnetPast = caught(() => af.send(h, mem, Int32Array.of(SLOT_AT, 64, mem.length - 4), 1));
  r.sendCountPast = caught(() => af.send(h, mem, Int32Array.of(SLOT_AT, 64, 0), 2));
  r.statsOpen = af.stats(h);
  af.close(h);
  r.statsClosed = caught(() => af.stats(h));
  r.closeClosed = caught(() => af.close(h));
  r.badVersion = caught(() => af.open(arg.ifname as string, { ...defaults, version: 4 as 2 }));
  out(r);
}

/** bench: frames/s through one rx handle and one send handle, rx'd batches sent as they are. */
async function bench(): Promise<void> {
  const rxH = af.open(arg.rxIf as string, { ...defaults, ringFrames: 4096 });
  const txH = af.open(arg.txIf as string, { ...defaults, qdiscBypass: true });
  const list = new Int32Array(256 * 3);
  out('ready');
  const seconds = arg.seconds as number;
  const end = Date.now() + seconds * 1000;
  let first = 0;
  let last = 0;
  let frames = 0;
  const cpu0 = process.cpuUsage();
  while (Date.now() < end) {
    if (!af.poll([rxH], 100)) {
      await yieldToLoop();
      continue;
    }
    const n = af.rx(rxH, mem, DESC_AT, 256, SLOT_AT, SLOT_END);
    for (let k = 0; k < n; k++) {
      const d = DESC_AT + 32 * k;
      list[3 * k] = view.getUint32(d, true) + 256;
      list[3 * k + 1] = view.getUint32(d + 8, true);
      list[3 * k + 2] = 0;
    }
    af.send(txH, mem, list, n);
    if (!first) first = performance.now();
    last = performance.now();
    frames += n;
  }
  const stats: HandleStats[] = [af.stats(rxH), af.stats(txH)];
  const cpu = process.cpuUsage(cpu0);
  out({ frames, seconds: (last - first) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, stats });
}

const commands: Record<string, () => unknown> = { rx, send, bad, bench };
await commands[arg.cmd as string]();
process.stdout.write('', () => process.exit(0)); // after the output has gone down the pipe
