import { type Stats, chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { BpfErrno, Errno } from '../../uapi/errno.js';
import { pidAlive } from '../bpffs/atomicFile.js';
import type { MapShow } from '../cli/mapOutput.js';
import type { MapMethod, MapTarget } from './mapTarget.js';
import type { NetRequest } from './netRequest.js';
import { UserError } from '../../uapi/userError.js';
import { type PeerCred, peerCredAvailable, peerCredOf } from './peer.js';

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

const SOCKET_NAME = /^(\d+)\.sock$/;
const uid = () => process.geteuid?.() ?? 0;

/**
 * trustedUids: whose sockets a client talks to: its own uid, root, and the state directory's
 * owner (who controls every pin in it anyway).
 */
function trustedUids(state: string): Set<number> {
  const out = new Set([uid(), 0]);
  try {
    out.add(statSync(state).uid);
  } catch {
    /* no state directory: no owners either */
  }
  return out;
}

/**
 * checkOwnerSocket: before a client sends a byte, the socket must be what an owner makes: a
 * socket (lstat, not a link), named `<pid>.sock`, owned by a trusted uid, in a `.run` directory
 * (not a link) owned by a trusted uid that no one else may write to. Returns the pid its name
 * gives, which the peer credentials must then show (checkPeer). Throws a one-line error.
 */
export function checkOwnerSocket(socket: string): number {
  const dir = dirname(socket);
  const m = SOCKET_NAME.exec(basename(socket));
  const refuse = (why: string): never => {
    throw new UserError(`${socket}: not talking to it: ${why}`);
  };
  if (!m || basename(dir) !== '.run') refuse('not a control socket name (<state>/.run/<pid>.sock)');
  const trusted = trustedUids(dirname(dir));
  let d: Stats;
  let f: Stats;
  try {
    d = lstatSync(dir);
    f = lstatSync(socket);
  } catch (e) {
    return refuse((e as NodeJS.ErrnoException).code ?? String(e));
  }
  if (!d.isDirectory()) refuse(`${dir} is not a directory (a link?)`);
  if (!trusted.has(d.uid)) refuse(`${dir} belongs to uid ${d.uid}`);
  if (d.mode & 0o022) refuse(`${dir} may be written by others (mode ${(d.mode & 0o777).toString(8)})`);
  if (!f.isSocket()) refuse('not a socket');
  if (!trusted.has(f.uid)) refuse(`it belongs to uid ${f.uid}`);
  return Number(m![1]);
}

/** checkPeer: the listener's SO_PEERCRED must be the pid the socket's name gives, with a trusted uid (when the native module can say). */
function checkPeer(socket: string, c: Socket, pid: number): void {
  const cred = peerCredOf(c);
  if (!cred) return;
  if (cred.pid !== pid || !trustedUids(dirname(dirname(socket))).has(cred.uid))
    throw new UserError(
      `${socket}: not talking to it: its listener is pid ${cred.pid} uid ${cred.uid}, not the owner its name gives (pid ${pid})`,
    );
}

/** connectOwner opens a checked connection to an owner's socket: checkOwnerSocket before, checkPeer once connected. */
function connectOwner(socket: string, onReady: (c: Socket) => void, reject: (e: Error) => void): Socket {
  const pid = checkOwnerSocket(socket);
  const c = createConnection(socket);
  c.on('connect', () => {
    try {
      checkPeer(socket, c, pid);
    } catch (e) {
      c.destroy();
      reject(e as Error);
      return;
    }
    onReady(c);
  });
  return c;
}

/** liveOwners lists the sockets of running owners (stale ones, the sockets of processes gone, are removed). */
export function liveOwners(state: string): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(runDir(state));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    const m = SOCKET_NAME.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    const path = join(runDir(state), n);
    if (pid === process.pid) continue;
    if (pid && pidAlive(pid)) out.push(path);
    else {
      try {
        if (lstatSync(path).uid === uid()) unlinkSync(path);
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

/** call sends one request to an owner and returns its reply (the socket and its listener checked first: checkOwnerSocket). */
export function call(socket: string, req: Request): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let c: Socket;
    try {
      c = connectOwner(socket, (c) => c.write(JSON.stringify(req) + '\n'), reject);
    } catch (e) {
      reject(e);
      return;
    }
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        c.end();
        resolve(JSON.parse(buf.slice(0, nl)) as Reply);
      }
    });
    c.on('error', reject);
    c.on('close', () => reject(new Error(`${socket}: closed without an answer`)));
    c.setTimeout(10_000, () => c.destroy(new Error(`${socket}: no answer in 10 s`)));
  });
}

/**
 * followTraces asks the owner at `socket` for its trace lines and hands each to `onLine`; the
 * promise settles when the connection ends (the owner stopped, or `signal` aborted).
 */
export function followTraces(socket: string, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let c: Socket;
    try {
      c = connectOwner(socket, (c) => c.write(JSON.stringify({ op: 'tracelog' } satisfies Request) + '\n'), reject);
    } catch (e) {
      reject(e);
      return;
    }
    let buf = '';
    c.setEncoding('utf8');
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

/** ControlLimits: what one client may cost an owner. */
export interface ControlOptions {
  /** Longest request line, bytes (a longer one: E2BIG, and the connection closes). */
  readonly maxRequestBytes?: number;
  /** Connections at once (more are closed at accept, and logged). */
  readonly maxConnections?: number;
  /** A connection silent this long (ms) is closed (a tracelog stream is not: it waits for trace lines). */
  readonly idleMs?: number;
  /** A group (gid) whose members may connect besides the owner's uid and root: `.run` becomes 0710 and the socket 0660, that group's. Needs peer credentials. */
  readonly group?: number;
  /** Where refusals and accept errors are logged (one line each). */
  readonly log?: (line: string) => void;
}

export const CONTROL_DEFAULTS = { maxRequestBytes: 16 << 20, maxConnections: 64, idleMs: 60_000 } as const;

/**
 * prepareRunDir makes `<state>/.run` owner-only (0700, or 0710 and the control group's) whatever
 * the umask and whatever it was, and refuses one that is a link or another uid's.
 */
function prepareRunDir(state: string, group?: number): string {
  const dir = runDir(state);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new UserError(`cannot make ${dir}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new UserError(`${dir} is not a directory (a symbolic link?); refusing to listen there`);
  if (st.uid !== uid()) throw new UserError(`${dir} belongs to uid ${st.uid}, not this process's ${uid()}; refusing to listen there`);
  chmodSync(dir, group === undefined ? 0o700 : 0o710);
  if (group !== undefined) chownSync(dir, -1, group);
  return dir;
}

/** allowed: who may use an owner's socket: its own uid, root, or the configured group. */
export function allowed(cred: PeerCred, group?: number): boolean {
  return cred.uid === uid() || cred.uid === 0 || (group !== undefined && cred.gid === group);
}

/**
 * serveControl listens on `<state>/.run/<pid>.sock` and answers requests with `h`.
 *
 * Who can reach it: the socket is 0600 in a 0700 `.run` (0660 / 0710 for a configured group),
 * whatever the umask, so only the owner's uid and root can connect(2). With the native module the
 * server also reads each peer's SO_PEERCRED and refuses (EACCES, logged) any uid but its own,
 * root, or a member of the configured group. Without the module the modes are the check; a group
 * then cannot be checked, so serveControl refuses to start with one. A request line is at most
 * maxRequestBytes (scanned once: each chunk is searched for the newline, never the whole
 * buffer again), at most maxConnections are open at once, an idle one is closed after idleMs,
 * and an accept error (EMFILE) is logged, never thrown.
 */
export function serveControl(state: string, h: OwnerHandlers, o: ControlOptions = {}): { server: Server; socket: string } {
  const log = o.log ?? ((l: string) => process.stderr.write(`bpfbox: ${l}\n`));
  const limits = { ...CONTROL_DEFAULTS, ...o };
  if (o.group !== undefined && !peerCredAvailable())
    throw new UserError(
      `control group ${o.group}: peers cannot be checked without the native module (SO_PEERCRED); build it (npm rebuild bpfbox) or drop the group`,
    );
  const dir = prepareRunDir(state, o.group);
  const socket = join(dir, `${process.pid}.sock`);
  try {
    unlinkSync(socket);
  } catch {
    /* not there */
  }
  const server = createServer((c) => {
    c.on('error', () => undefined);
    let cred: PeerCred | undefined;
    try {
      cred = peerCredOf(c);
    } catch (e) {
      log(`control: refused a connection whose credentials cannot be read (${(e as Error).message})`);
      c.destroy();
      return;
    }
    if (cred && !allowed(cred, o.group)) {
      log(`control: refused pid ${cred.pid} uid ${cred.uid} gid ${cred.gid} (EACCES)`);
      c.end(JSON.stringify({ errno: Errno.EACCES, message: 'EACCES: not the owner, root, or the control group' } satisfies Reply) + '\n');
      return;
    }
    c.setTimeout(limits.idleMs, () => c.destroy());
    const parts: string[] = [];
    let size = 0;
    let streaming = false;
    let queue = Promise.resolve();
    const handle = async (line: string) => {
      if (c.destroyed) return;
      let reply: Reply;
      try {
        const req = JSON.parse(line) as Request;
        if (req.op === 'tracelog') {
          // a stream: this connection carries trace lines from now on, and may stay silent
          streaming = true;
          c.setTimeout(0);
          c.write(JSON.stringify({ ok: null }) + '\n');
          const stop = h.tracelog?.((l) => c.write(JSON.stringify({ trace: l }) + '\n'));
          if (stop) c.on('close', stop);
          return;
        }
        reply = { ok: (await answer(h, req)) ?? null };
        if (req.op === 'map' && WRITES.includes(req.method)) h.after();
      } catch (e) {
        reply =
          e instanceof BpfErrno
            ? { errno: e.errno, message: e.message }
            : { errno: Errno.EINVAL, message: e instanceof UserError ? e.message : String(e) };
      }
      if (!c.destroyed) c.write(JSON.stringify(reply) + '\n');
    };
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      if (streaming) return;
      let start = 0;
      let nl: number;
      while ((nl = d.indexOf('\n', start)) >= 0) {
        parts.push(d.slice(start, nl));
        const line = parts.join('');
        parts.length = 0;
        size = 0;
        start = nl + 1;
        queue = queue.then(() => handle(line));
      }
      if (start < d.length) {
        parts.push(d.slice(start));
        size += d.length - start;
      }
      if (size > limits.maxRequestBytes) {
        log(`control: a request over ${limits.maxRequestBytes} bytes; connection closed (E2BIG)`);
        parts.length = 0;
        c.end(
          JSON.stringify({ errno: Errno.E2BIG, message: `E2BIG: a request is at most ${limits.maxRequestBytes} bytes` } satisfies Reply) +
            '\n',
        );
        streaming = true; // read no more
      }
    });
  });
  server.maxConnections = limits.maxConnections;
  let dropped = 0;
  server.on('drop', () => {
    if (dropped++ % 100 === 0) log(`control: ${limits.maxConnections} connections open; refused another (${dropped} so far)`);
  });
  server.on('error', (e: NodeJS.ErrnoException) => log(`control: ${e.code ?? ''} ${e.message}`));
  // the socket is born 0600 (bind(2) applies the umask), then chmod'ed: no instant at a wider mode
  let mask: number | undefined;
  try {
    mask = process.umask(0o177);
  } catch {
    /* a worker thread may not set the umask: the 0700 directory still stands between */
  }
  try {
    server.listen(socket);
  } finally {
    if (mask !== undefined) process.umask(mask);
  }
  server.once('listening', () => {
    chmodSync(socket, o.group === undefined ? 0o600 : 0o660);
    if (o.group !== undefined) chownSync(socket, -1, o.group);
  });
  return { server, socket };
}
