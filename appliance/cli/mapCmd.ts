import { BpfErrno, Errno, strerror } from '../../uapi/errno.js';
import { MapType, UpdateFlag, mapTypeByName } from '../../uapi/mapType.js';
import { btfDumpPlain, entryJson, entryPlain, fprintHex, jsonBytes, showJson, showPlain } from './mapOutput.js';
import { toJson } from '../../maps/typeDesc.js';
import type { MapTarget } from '../service/mapTarget.js';
import type { MapRef, Session } from '../service/session.js';
import { type Cmd, type Output, cmdSelect } from './command.js';
import { UsageError, usage } from './usageError.js';

/** Tokens is the rest of a command line, eaten from the front. */
class Tokens {
  readonly #t: string[];
  constructor(t: readonly string[]) {
    this.#t = [...t];
  }
  peek(): string | undefined {
    return this.#t[0];
  }
  next(what: string): string {
    return this.#t.shift() ?? usage(`expected ${what}`);
  }
  take(word: string): boolean {
    if (this.#t[0] !== word) return false;
    this.#t.shift();
    return true;
  }
  get empty(): boolean {
    return this.#t.length === 0;
  }
  rest(): string[] {
    return this.#t.splice(0);
  }
}

/** parseMapRef reads `id N`, `pinned FILE` or `name NAME`. */
function parseMapRef(t: Tokens): MapRef {
  const kind = t.next("'id', 'pinned' or 'name'");
  if (kind === 'id') {
    const v = t.next('map id');
    const id = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(id)) usage(`can't parse ${v} as ID`);
    return { id };
  }
  if (kind === 'pinned') return { pinned: t.next('a path') };
  if (kind === 'name') {
    const name = t.next('a name');
    if (name.length > 15) usage(`can't parse name longer than 15 characters`);
    return { name };
  }
  return usage(`expected 'id', 'pinned' or 'name', got: '${kind}'?`);
}

/** ULONG_MAX: where strtoul saturates (ERANGE) on a 64-bit machine. */
const ULONG_MAX = (1n << 64n) - 1n;

/**
 * strtoulBig(s, base 0): 0x hex, leading 0 octal, else decimal (base 16 after `hex`),
 * saturated at ULONG_MAX as strtoul's ERANGE is; undefined unless it all parses.
 */
function strtoulBig(s: string, hex: boolean): bigint | undefined {
  const m = hex ? /^(?:0x)?([0-9a-f]+)$/i.exec(s) : /^(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.exec(s);
  if (!m) return undefined;
  const v = hex ? BigInt(`0x${m[1]}`) : /^0[0-7]/.test(s) ? BigInt(`0o${s.slice(1)}`) : BigInt(s);
  return v > ULONG_MAX ? ULONG_MAX : v;
}

/** strtoul(s, base 0): strtoulBig as a number (exact up to 2^53). */
function strtoul(s: string, hex: boolean): number | undefined {
  const v = strtoulBig(s, hex);
  return v === undefined ? undefined : Number(v);
}

/**
 * parseBytes reads `n` bytes as bpftool does: tokens parsed like strtoul with base 0 (or 16
 * after `hex`), each stored as one byte; fewer than `n` is an error naming what was got.
 */
function parseBytes(t: Tokens, what: string, n: number): Uint8Array {
  const hex = t.take('hex');
  const out: number[] = [];
  while (out.length < n && t.peek() !== undefined) {
    const v = strtoulBig(t.peek()!, hex);
    if (v === undefined) break;
    t.next('byte');
    out.push(Number(v & 0xffn)); // bpftool stores strtoul's result in a byte: 300 is 0x2c, 99999999999999999999 (ULONG_MAX) 0xff
  }
  if (out.length !== n) usage(`${what} expected ${n} bytes got ${out.length}`);
  return Uint8Array.from(out);
}

const errnoExit = (e: BpfErrno) => (256 - e.errno) & 0xff;

/** fail prints an error like bpftool (`Error: update failed: File exists`) and gives the exit code. */
function failed(o: Output, what: string, e: unknown): number {
  if (!(e instanceof BpfErrno)) throw e;
  const msg = `${what}: ${strerror(e.errno)}`;
  if (o.json) o.out(JSON.stringify({ error: msg }));
  else o.err(`Error: ${msg}`);
  return errnoExit(e);
}

function emit(o: Output, value: unknown): void {
  o.out(toJson(value, o.pretty ? 4 : 0));
}

async function one(s: Session, ref: MapRef): Promise<MapTarget> {
  const all = await s.resolve(ref);
  if (all.length > 1) throw new UsageError(`several maps match this handle`);
  return all[0];
}

/** MapArgs: what a `map` verb's handler gets: the session, the rest of the command line, the output, the verb. */
interface MapArgs {
  readonly s: Session;
  readonly t: Tokens;
  readonly o: Output;
  readonly verb: string;
}

/** attempt runs a command that prints nothing on success (`null` with -j), or fails as bpftool does. */
async function attempt(o: Output, what: string, fn: () => Promise<unknown>): Promise<number> {
  try {
    await fn();
  } catch (e) {
    return failed(o, what, e);
  }
  if (o.json) o.out('null');
  return 0;
}

/** doShow: `show|list [MAP]`. */
async function doShow({ s, t, o }: MapArgs): Promise<number> {
  const named = !t.empty;
  const targets = named ? await s.resolve(parseMapRef(t)) : await s.all();
  const shows = (await Promise.all(targets.map((m) => m.show()))).map((m) => (o.pinned ? m : { ...m, pinned: [] }));
  shows.sort((a, b) => a.id - b.id);
  if (o.json) emit(o, !named || shows.length > 1 ? shows.map(showJson) : showJson(shows[0]));
  else for (const m of shows) o.out(showPlain(m));
  return 0;
}

/** doDump: `dump MAP`. */
async function doDump({ s, t, o }: MapArgs): Promise<number> {
  const targets = await s.resolve(parseMapRef(t));
  const json: unknown[] = [];
  for (const m of targets) {
    const info = await m.show();
    let entries: [Uint8Array, Uint8Array][];
    try {
      entries = await m.dump();
    } catch (e) {
      if (!(e instanceof BpfErrno) || o.json) throw e;
      o.out('Found 0 elements');
      return errnoExit(e);
    }
    if (o.json) json.push(...entries.map(([k, v]) => entryJson(info, k, v)));
    else if (info.btf?.key && info.btf.value) {
      if (targets.length > 1) o.out(showPlain(info).split('\n')[0]);
      o.out(btfDumpPlain(info, entries));
    } else {
      if (targets.length > 1) o.out(showPlain(info).split('\n')[0]);
      for (const [k, v] of entries) o.out(entryPlain(info, k, v));
      o.out(`Found ${entries.length} element${entries.length === 1 ? '' : 's'}${targets.length > 1 ? '\n' : ''}`);
    }
  }
  if (o.json) emit(o, json);
  return 0;
}

/** doLookup: `lookup MAP [key DATA]`. */
async function doLookup({ s, t, o }: MapArgs): Promise<number> {
  const m = await one(s, parseMapRef(t));
  const info = await m.show();
  const key = t.take('key') ? parseBytes(t, 'key', info.bytes_key) : info.bytes_key === 0 ? null : usage('key expected');
  try {
    const v = await m.lookup(key);
    if (o.json) emit(o, entryJson(info, key ?? new Uint8Array(0), v));
    else o.out(entryPlain(info, key ?? new Uint8Array(0), v));
    return 0;
  } catch (e) {
    if (e instanceof BpfErrno && e.errno === Errno.ENOENT) {
      if (o.json) o.out('null');
      else o.out(`key:\n${fprintHex(key ?? new Uint8Array(0))}\n\nNot found`);
      return errnoExit(e);
    }
    return failed(o, 'lookup failed', e);
  }
}

/** doUpdate: `update MAP [key DATA] value VALUE [UPDATE_FLAGS]`. */
async function doUpdate({ s, t, o }: MapArgs): Promise<number> {
  const m = await one(s, parseMapRef(t));
  const info = await m.show();
  const key = info.bytes_key ? (t.take('key') ? parseBytes(t, 'key', info.bytes_key) : usage('key expected')) : null;
  if (!t.take('value')) usage('value expected');
  let value = parseBytes(t, 'value', info.bytes_value);
  if (info.percpu) value = perCpu(value, info.ncpus);
  const flags = t.take('noexist') ? UpdateFlag.BPF_NOEXIST : t.take('exist') ? UpdateFlag.BPF_EXIST : (t.take('any'), UpdateFlag.BPF_ANY);
  return attempt(o, 'update failed', () => m.update(key, value, flags));
}

/** doDelete: `delete MAP key DATA`. */
async function doDelete({ s, t, o }: MapArgs): Promise<number> {
  const m = await one(s, parseMapRef(t));
  const info = await m.show();
  if (!t.take('key')) usage('key expected');
  const key = parseBytes(t, 'key', info.bytes_key);
  return attempt(o, 'delete failed', () => m.delete(key));
}

/** doGetnext: `getnext MAP [key DATA]`. */
async function doGetnext({ s, t, o }: MapArgs): Promise<number> {
  const m = await one(s, parseMapRef(t));
  const info = await m.show();
  const key = t.take('key') ? parseBytes(t, 'key', info.bytes_key) : null;
  let next: Uint8Array;
  try {
    next = await m.nextKey(key);
  } catch (e) {
    return failed(o, "can't get next key", e);
  }
  if (o.json) emit(o, { key: key ? jsonBytes(key) : null, next_key: jsonBytes(next) });
  else o.out(`${key ? `key:\n${fprintHex(key)}` : 'key: None'}\nnext key:\n${fprintHex(next)}`);
  return 0;
}

/** doPin: `pin MAP FILE`. */
async function doPin({ s, t, o }: MapArgs): Promise<number> {
  const m = await one(s, parseMapRef(t));
  const path = t.next('a path');
  return attempt(o, "can't pin the object", () => m.pin(path));
}

/** doFreeze: `freeze MAP`. */
async function doFreeze({ s, t, o }: MapArgs): Promise<number> {
  const m = await one(s, parseMapRef(t));
  return attempt(o, 'failed to freeze map', () => m.freeze());
}

/** doPush: `push|enqueue MAP value VALUE` (bpftool's do_update on a map without keys). */
async function doPush({ s, t, o }: MapArgs): Promise<number> {
  const m = await one(s, parseMapRef(t));
  const info = await m.show();
  if (!t.take('value')) usage('value expected');
  const value = parseBytes(t, 'value', info.bytes_value);
  return attempt(o, 'update failed', () => m.update(null, value, UpdateFlag.BPF_ANY));
}

/** doPopDequeue: `pop|dequeue MAP`, and `peek MAP`, which leaves the value in place. */
async function doPopDequeue({ s, t, o, verb }: MapArgs): Promise<number> {
  const m = await one(s, parseMapRef(t));
  try {
    const v = verb === 'peek' ? await m.lookup(null) : await m.pop();
    if (o.json) emit(o, { key: [], value: jsonBytes(v) });
    else o.out(`value: ${fprintHex(v)}`);
    return 0;
  } catch (e) {
    if (e instanceof BpfErrno && e.errno === Errno.ENOENT) {
      // bpftool prints this one on stdout
      o.out(o.json ? JSON.stringify({ error: 'empty map' }) : 'Error: empty map');
      return errnoExit(e);
    }
    return failed(o, `${verb} failed`, e);
  }
}

function perCpu(value: Uint8Array, ncpus: number): Uint8Array {
  const step = (value.length + 7) & ~7;
  const out = new Uint8Array(step * ncpus);
  for (let c = 0; c < ncpus; c++) out.set(value, c * step);
  return out;
}

/** doCreate: `create FILE type TYPE key K value V entries E name NAME [flags F] [inner_map MAP]`. */
async function doCreate({ s, t, o }: MapArgs): Promise<number> {
  const file = t.next('a pin path');
  const a = { map_type: -1, key_size: -1, value_size: -1, max_entries: -1, map_name: '', map_flags: 0, inner_map_fd: 0 };
  while (!t.empty) {
    const word = t.next('a keyword');
    const num = (w: string) => strtoul(t.next(w), false) ?? usage(`can't parse ${w}`);
    if (word === 'type') {
      const name = t.next('a map type');
      a.map_type = mapTypeByName(name) ?? usage(`unrecognized map type: ${name}`);
    } else if (word === 'key') a.key_size = num('key size');
    else if (word === 'value') a.value_size = num('value size');
    else if (word === 'entries') a.max_entries = num('max entries');
    else if (word === 'name') a.map_name = t.next('a name');
    else if (word === 'flags') a.map_flags = num('flags');
    else if (word === 'inner_map') {
      const inner = await one(s, parseMapRef(t));
      const info = await inner.show();
      const r = s.kernel.bpf('BPF_MAP_CREATE', {
        map_type: info.type,
        key_size: info.bytes_key,
        value_size: info.bytes_value,
        max_entries: info.max_entries,
        map_flags: info.flags,
      });
      if (r < 0) return failed(o, 'map create failed', new BpfErrno(-r)) && 255;
      a.inner_map_fd = r;
    } else usage(`unknown keyword ${word}`);
  }
  if (a.map_type < 0) usage('map type expected');
  const keyless: readonly number[] = [
    MapType.BPF_MAP_TYPE_QUEUE,
    MapType.BPF_MAP_TYPE_STACK,
    MapType.BPF_MAP_TYPE_RINGBUF,
    MapType.BPF_MAP_TYPE_BLOOM_FILTER,
  ];
  if (a.key_size < 0) a.key_size = keyless.includes(a.map_type) ? 0 : usage('key size expected');
  if (a.value_size < 0) a.value_size = a.map_type === MapType.BPF_MAP_TYPE_RINGBUF ? 0 : usage('value size expected');
  if (a.max_entries < 0) usage('max entries expected');
  const fd = s.kernel.bpf('BPF_MAP_CREATE', { ...a, inner_map_fd: a.inner_map_fd || undefined });
  if (a.inner_map_fd) s.kernel.close(a.inner_map_fd);
  // bpftool exits with 255 (-1) when create or pin fails, not with the errno
  if (fd < 0) return failed(o, 'map create failed', new BpfErrno(-fd)) && 255;
  const r = s.kernel.bpf('BPF_OBJ_PIN', { pathname: file, bpf_fd: fd });
  if (r < 0) return failed(o, `can't pin the object (${file})`, new BpfErrno(-r)) && 255;
  if (o.json) o.out('null');
  return 0;
}

/** MAP_CMDS: the `map` verbs, as bpftool's map.c `cmds[]` (an alias is a second row). */
const MAP_CMDS: readonly Cmd<MapArgs>[] = [
  { cmd: 'show', fn: doShow },
  { cmd: 'list', fn: doShow },
  { cmd: 'dump', fn: doDump },
  { cmd: 'update', fn: doUpdate },
  { cmd: 'lookup', fn: doLookup },
  { cmd: 'getnext', fn: doGetnext },
  { cmd: 'delete', fn: doDelete },
  { cmd: 'pin', fn: doPin },
  { cmd: 'create', fn: doCreate },
  { cmd: 'peek', fn: doPopDequeue },
  { cmd: 'push', fn: doPush },
  { cmd: 'enqueue', fn: doPush },
  { cmd: 'pop', fn: doPopDequeue },
  { cmd: 'dequeue', fn: doPopDequeue },
  { cmd: 'freeze', fn: doFreeze },
];

/** runMapCommand runs `bpfbox map …` and returns the exit code. */
export async function runMapCommand(s: Session, argv: readonly string[], o: Output): Promise<number> {
  const [verb, ...rest] = argv;
  const fn = cmdSelect(MAP_CMDS, verb, 'map');
  try {
    return await fn({ s, t: new Tokens(rest), o, verb });
  } catch (e) {
    if (e instanceof BpfErrno) return failed(o, e.errno === Errno.ENOENT ? "can't open map" : 'failed', e);
    throw e;
  }
}
