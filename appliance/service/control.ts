import { mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { type Server, createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { BpfErrno, Errno } from '../../uapi/errno.js';
import { pidAlive } from '../bpffs/atomicFile.js';
import type { MapShow } from '../cli/mapOutput.js';
import type { MapMethod, MapTarget } from './mapTarget.js';
import type { NetRequest } from './netRequest.js';
import { UserError } from '../../uapi/userError.js';

/** MapRef names a map to an owner: by pin path or by id. */
export type RemoteRef = { readonly pinned: string } | { readonly id: number };

/** Request is one line a client sends to an owner's control socket. */
export type Request =
  | { readonly op: 'list' }
  | { readonly op: 'map'; readonly ref: RemoteRef; readonly method: MapMethod; readonly args: readonly (string | number | null)[] }
  | { readonly op: 'net'; readonly net: NetRequest }
  /** Follow the owner's bpf_trace_printk lines: the answer is `{"ok":null}`, then `{"trace": LINE}` per line until either side closes. */
  | { readonly op: 'tracelog' };

/** Reply is one line an owner answers with. */
export type Reply = { readonly ok: unknown } | { readonly errno: number; readonly message: string };

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

/** runDir is where owners' control sockets live: `<state>/.run/<pid>.sock`. */
export function runDir(state: string): string {
  return join(state, '.run');
}

/** liveOwners lists the sockets of running owners (stale ones are removed). */
export function liveOwners(state: string): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(runDir(state));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    const pid = Number(n.replace(/\.sock$/, ''));
    const path = join(runDir(state), n);
    if (pid === process.pid) continue;
    if (pid && pidAlive(pid)) out.push(path);
    else {
      try {
        unlinkSync(path);
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

/** call sends one request to an owner and returns its reply. */
export function call(socket: string, req: Request): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket);
    let buf = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(JSON.stringify(req) + '\n'));
    c.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        c.end();
        resolve(JSON.parse(buf.slice(0, nl)) as Reply);
      }
    });
    c.on('error', reject);
    c.setTimeout(10_000, () => c.destroy(new Error(`${socket}: no answer in 10 s`)));
  });
}

/**
 * followTraces asks the owner at `socket` for its trace lines and hands each to `onLine`; the
 * promise settles when the connection ends (the owner stopped, or `signal` aborted).
 */
export function followTraces(socket: string, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket);
    let buf = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(JSON.stringify({ op: 'tracelog' } satisfies Request) + '\n'));
    c.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const r = JSON.parse(buf.slice(0, nl)) as { trace?: string; errno?: number; message?: string };
        buf = buf.slice(nl + 1);
        if (r.trace !== undefined) onLine(r.trace);
        else if (r.errno) c.destroy(new Error(`${socket}: ${r.message}`));
      }
    });
    c.on('error', reject);
    c.on('close', () => resolve());
    signal.addEventListener('abort', () => c.end(), { once: true });
  });
}

/** RemoteMap reaches a map another process holds live, over its control socket. */
export class RemoteMap implements MapTarget {
  readonly #socket: string;
  readonly #ref: RemoteRef;

  constructor(socket: string, ref: RemoteRef) {
    this.#socket = socket;
    this.#ref = ref;
  }

  async #do(method: MapMethod, ...args: (string | number | null)[]): Promise<unknown> {
    const r = await call(this.#socket, { op: 'map', ref: this.#ref, method, args });
    if ('errno' in r) throw new BpfErrno(r.errno, r.message);
    return r.ok;
  }

  async show(): Promise<MapShow> {
    return (await this.#do('show')) as MapShow;
  }
  async lookup(key: Uint8Array | null): Promise<Uint8Array> {
    return unhex((await this.#do('lookup', key && hex(key))) as string);
  }
  async update(key: Uint8Array | null, value: Uint8Array, flags: number): Promise<void> {
    await this.#do('update', key && hex(key), hex(value), flags);
  }
  async delete(key: Uint8Array): Promise<void> {
    await this.#do('delete', hex(key));
  }
  async nextKey(key: Uint8Array | null): Promise<Uint8Array> {
    return unhex((await this.#do('nextKey', key && hex(key))) as string);
  }
  async dump(): Promise<[Uint8Array, Uint8Array][]> {
    return ((await this.#do('dump')) as [string, string][]).map(([k, v]) => [unhex(k), unhex(v)]);
  }
  async freeze(): Promise<void> {
    await this.#do('freeze');
  }
  async pop(): Promise<Uint8Array> {
    return unhex((await this.#do('pop')) as string);
  }
  async pin(path: string): Promise<void> {
    await this.#do('pin', path);
  }
}

/** OwnerHandlers is what an owner answers with. */
export interface OwnerHandlers {
  list(): Promise<MapShow[]>;
  open(ref: RemoteRef): MapTarget;
  /** after runs when a request changed something (the owner persists its pins). */
  after(): void;
  /** net answers `bpfbox net` (an appliance: serve --config); an owner without it says so. */
  net?(req: NetRequest): Promise<unknown>;
  /** tracelog follows the owner's trace lines (TraceLog.follow); it returns the function that stops following. */
  tracelog?(send: (line: string) => void): () => void;
}

/** NoAppliance: a `net` request to an owner that runs no appliance (plain `bpfbox serve`). */
export const NO_APPLIANCE = 'this bpfbox serve runs no appliance (started without --config)';

const WRITES: readonly MapMethod[] = ['update', 'delete', 'freeze', 'pop', 'pin'];

async function answer(h: OwnerHandlers, req: Request): Promise<unknown> {
  if (req.op === 'list') return h.list();
  if (req.op === 'tracelog') throw new UserError('tracelog: internal: answered by serveControl');
  if (req.op === 'net') {
    if (!h.net) throw new UserError(NO_APPLIANCE);
    return h.net(req.net);
  }
  const t = h.open(req.ref);
  const a = req.args;
  const bytes = (i: number) => (a[i] === null || a[i] === undefined ? null : unhex(String(a[i])));
  switch (req.method) {
    case 'show':
      return t.show();
    case 'lookup':
      return hex(await t.lookup(bytes(0)));
    case 'update':
      return t.update(bytes(0), bytes(1)!, Number(a[2] ?? 0)).then(() => null);
    case 'delete':
      return t.delete(bytes(0)!).then(() => null);
    case 'nextKey':
      return hex(await t.nextKey(bytes(0)));
    case 'dump':
      return (await t.dump()).map(([k, v]) => [hex(k), hex(v)]);
    case 'freeze':
      return t.freeze().then(() => null);
    case 'pop':
      return hex(await t.pop());
    case 'pin':
      return t.pin(String(a[0])).then(() => null);
  }
}

/** serveControl listens on `<state>/.run/<pid>.sock` and answers requests with `h`. */
export function serveControl(state: string, h: OwnerHandlers): { server: Server; socket: string } {
  mkdirSync(runDir(state), { recursive: true });
  const socket = join(runDir(state), `${process.pid}.sock`);
  try {
    unlinkSync(socket);
  } catch {
    /* not there */
  }
  const server = createServer((c) => {
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', async (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let reply: Reply;
        try {
          const req = JSON.parse(line) as Request;
          if (req.op === 'tracelog') {
            // a stream: this connection carries trace lines from now on
            c.write(JSON.stringify({ ok: null }) + '\n');
            const stop = h.tracelog?.((l) => c.write(JSON.stringify({ trace: l }) + '\n'));
            if (stop) c.on('close', stop);
            continue;
          }
          reply = { ok: (await answer(h, req)) ?? null };
          if (req.op === 'map' && WRITES.includes(req.method)) h.after();
        } catch (e) {
          reply =
            e instanceof BpfErrno
              ? { errno: e.errno, message: e.message }
              : { errno: Errno.EINVAL, message: e instanceof UserError ? e.message : String(e) };
        }
        c.write(JSON.stringify(reply) + '\n');
      }
    });
    c.on('error', () => undefined);
  });
  server.listen(socket);
  return { server, socket };
}
