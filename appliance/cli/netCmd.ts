import { UserError } from '../../uapi/userError.js';
import { NO_APPLIANCE, type Reply, call, liveOwners } from '../service/control.js';
import {
  ATTACH_TYPES,
  type AttachKind,
  type AttachType,
  type NetProgRef,
  type NetRequest,
  type NetShow,
  type NetShowEntry,
} from '../service/netRequest.js';
import { type Cmd, type Output, cmdSelect } from './command.js';
import { usage } from './usageError.js';

/** NetCmdError: a `net` command a running appliance refused, or no appliance to send it to; one line. */
export class NetCmdError extends UserError {}

type AttachRequest = Extract<NetRequest, { verb: 'attach' }>;

/** NetArgs: what a `net` verb's handler gets: the state directory (where serve's control socket is), the words after the verb, the output. */
interface NetArgs {
  readonly state: string;
  readonly t: string[];
  readonly o: Output;
}

/** parseAttachType: bpftool's ATTACH_TYPE word. */
function parseAttachType(t: string[]): AttachKind {
  const w = t.shift() ?? usage(`expected an attach type (${Object.keys(ATTACH_TYPES).join(', ')})`);
  if (!(w in ATTACH_TYPES)) usage(`invalid net attach/detach type: ${w} (bpfbox takes ${Object.keys(ATTACH_TYPES).join(', ')})`);
  return ATTACH_TYPES[w as AttachType];
}

/** parseProgRef: `id N`, `name NAME`, `pinned PATH`, as bpftool's prog_parse_fd. */
function parseProgRef(t: string[]): NetProgRef {
  const kind = t.shift() ?? usage("expected 'id', 'name' or 'pinned'");
  const v = t.shift() ?? usage(`expected a value after ${kind}`);
  if (kind === 'id') return /^\d+$/.test(v) ? { id: Number(v) } : usage(`can't parse ${v} as ID`);
  if (kind === 'name') return { name: v };
  if (kind === 'pinned') return { pinned: v };
  return usage(`expected 'id', 'name' or 'pinned', got: '${kind}'?`);
}

/** keyword: `WORD VALUE` if the next word is WORD. */
function keyword(t: string[], word: string): string | undefined {
  if (t[0] !== word) return undefined;
  t.shift();
  return t.shift() ?? usage(`expected a value after ${word}`);
}

/**
 * appliances: the control sockets of running `serve --config` processes (a plain `serve`
 * answers NO_APPLIANCE and is left out); none is one line saying so.
 */
async function appliances(state: string): Promise<{ socket: string; show: NetShow }[]> {
  const out: { socket: string; show: NetShow }[] = [];
  for (const socket of liveOwners(state)) {
    const r = await call(socket, { op: 'net', net: { verb: 'show' } }).catch(() => undefined);
    if (r && 'ok' in r) out.push({ socket, show: r.ok as NetShow });
  }
  if (!out.length) throw new NetCmdError(`no appliance is running (bpfbox serve --config; state directory ${state})`);
  return out;
}

/** send sends a request to an appliance and gives its answer, or throws its one line. */
async function send(socket: string, net: NetRequest): Promise<unknown> {
  const r: Reply = await call(socket, { op: 'net', net });
  if ('errno' in r) throw new NetCmdError(r.message === NO_APPLIANCE ? `${socket}: ${r.message}` : r.message);
  return r.ok;
}

/** target: the appliance to act on: the one that holds `dev`, else the only one. */
async function target(state: string, dev: string): Promise<string> {
  const all = await appliances(state);
  const holder = all.find((a) => Object.values(a.show).some((es) => es.some((e) => e.devname === dev || e.peer === dev)));
  if (holder) return holder.socket;
  if (all.length > 1)
    throw new NetCmdError(`${all.length} appliances are running (${all.map((a) => a.socket).join(', ')}) and none has ${dev}`);
  return all[0].socket;
}

/** entryPlain: one attachment as bpftool prints an xdp entry (`b0(5) generic id 12`), then the bridge's settings. */
function entryPlain(e: NetShowEntry): string {
  const peer = e.peer !== undefined ? ` peer ${e.peer}(${e.peer_ifindex})` : '';
  return `${e.devname}(${e.ifindex}) ${e.mode}${peer} id ${e.id} name ${e.name} offloads ${e.offloads} on_error ${e.on_error} workers ${e.workers}`;
}

/** doShow: `show|list [dev NAME]`: the attachments of every running appliance, by hook. */
async function doShow({ state, t, o }: NetArgs): Promise<number> {
  const dev = keyword(t, 'dev');
  if (t.length) usage(`unexpected argument: ${t[0]}`);
  const merged: NetShow = { xdp: [], tc: [], socket: [] };
  for (const a of await appliances(state)) {
    const s = dev === undefined ? a.show : ((await send(a.socket, { verb: 'show', dev })) as NetShow);
    for (const k of Object.keys(merged) as (keyof NetShow)[]) merged[k].push(...s[k]);
  }
  if (o.json) o.out(JSON.stringify([merged], null, o.pretty ? 4 : undefined));
  else for (const [k, es] of Object.entries(merged)) o.out(`${k}:\n${es.map((e) => entryPlain(e) + '\n').join('')}`);
  return 0;
}

/** doAttach: `attach ATTACH_TYPE PROG dev NAME [peer NAME] [offloads off|passthrough] [on_error drop|pass] [workers N] [overwrite]`. */
async function doAttach({ state, t, o }: NetArgs): Promise<number> {
  const kind = parseAttachType(t);
  const prog = parseProgRef(t);
  const dev = keyword(t, 'dev') ?? usage("expected 'dev NAME'");
  const req: { -readonly [K in keyof AttachRequest]: AttachRequest[K] } = { verb: 'attach', kind, prog, dev };
  while (t.length) {
    const w = t[0];
    if (w === 'overwrite') {
      t.shift(); // bpfbox replaces an attached program anyway (at the workers' next batch boundary)
      continue;
    }
    const v = keyword(t, w) ?? usage(`unexpected argument: ${w}`);
    if (w === 'peer') req.peer = v;
    else if (w === 'offloads') req.offloads = v === 'off' || v === 'passthrough' ? v : usage(`offloads ${v}: expected off or passthrough`);
    else if (w === 'on_error') req.onError = v === 'drop' || v === 'pass' ? v : usage(`on_error ${v}: expected drop or pass`);
    else if (w === 'workers') req.workers = /^[1-9]\d*$/.test(v) ? Number(v) : usage(`workers ${v}: expected a number of threads`);
    else usage(`unexpected argument: ${w}`);
  }
  const e = (await send(await target(state, dev), req)) as NetShowEntry;
  if (o.json) o.out(JSON.stringify(e, null, o.pretty ? 4 : undefined));
  return 0;
}

/** doDetach: `detach ATTACH_TYPE dev NAME`. */
async function doDetach({ state, t, o }: NetArgs): Promise<number> {
  const kind = parseAttachType(t);
  const dev = keyword(t, 'dev') ?? usage("expected 'dev NAME'");
  if (t.length) usage(`unexpected argument: ${t[0]}`);
  await send(await target(state, dev), { verb: 'detach', kind, dev });
  if (o.json) o.out('null');
  return 0;
}

/** NET_CMDS: bpftool's `net` verbs (net.c cmds[]). */
const NET_CMDS: readonly Cmd<NetArgs>[] = [
  { cmd: 'show', fn: doShow },
  { cmd: 'list', fn: doShow },
  { cmd: 'attach', fn: doAttach },
  { cmd: 'detach', fn: doDetach },
];

/**
 * runNetCommand runs `bpfbox net VERB …` against the running appliance (`bpfbox serve
 * --config`) through its control socket under `state`, with bpftool's grammar:
 *   net { show | list } [ dev NAME ]
 *   net attach ATTACH_TYPE PROG dev NAME [ peer NAME ] [ offloads off|passthrough ] [ on_error drop|pass ] [ workers N ] [ overwrite ]
 *   net detach ATTACH_TYPE dev NAME
 * ATTACH_TYPE is xdp (xdpgeneric) or tc (tcx_ingress); PROG is `id N`, `name NAME` or
 * `pinned PATH`, a program of the appliance's kernel (one pinned elsewhere is loaded into it).
 */
export async function runNetCommand(state: string, words: string[], o: Output): Promise<number> {
  const t = [...words];
  return cmdSelect(NET_CMDS, t.shift(), 'net')({ state, t, o });
}
