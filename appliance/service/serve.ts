import { BpfErrno } from '../../uapi/errno.js';
import { readFileSync } from 'node:fs';
import { UserError } from '../../uapi/userError.js';
import { type ControlOptions, type OwnerHandlers, liveOwners, serveControl } from './control.js';
import type { MapShow } from '../cli/mapOutput.js';
import { Session } from './session.js';
import { TraceLog } from './traceLog.js';

/** ServeOptions: the state directory, and how often to write pinned maps (ms). */
export interface ServeOptions {
  readonly bpffs?: string;
  readonly flushEveryMs?: number;
  readonly log?: (line: string) => void;
  /** The session to serve (the appliance loads its objects into one first); default: a new one. */
  readonly session?: Session;
  /** The appliance's answer to `bpfbox net` requests (serve --config); without it they are refused. */
  readonly net?: OwnerHandlers['net'];
  /** The programs' bpf_trace_printk lines, for `bpfbox prog tracelog` (serve --config fills it; a plain serve's stays empty). */
  readonly traces?: TraceLog;
  /** A group whose members may use the control socket besides this uid and root (gid or name; default: $BPFBOX_CONTROL_GROUP). */
  readonly controlGroup?: number | string;
  /** Control-socket limits (tests make them small). */
  readonly control?: Omit<ControlOptions, 'group' | 'log'>;
}

/** groupId resolves a group given by number or by name (/etc/group), or throws a one-line error. */
export function groupId(g: number | string): number {
  if (typeof g === 'number' || /^\d+$/.test(g)) return Number(g);
  let text = '';
  try {
    text = readFileSync('/etc/group', 'utf8');
  } catch {
    /* no group file */
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === g && gid !== undefined) return Number(gid);
  }
  throw new UserError(`control group ${g}: no such group`);
}

/**
 * serve makes this process the live owner of every pin nobody else holds: it restores them,
 * records itself in their pin files, answers other bpfbox processes on its control socket
 * (so they see live values and their changes reach the live objects), writes the pins back
 * after each change and every `flushEveryMs`, and gives them up on SIGINT/SIGTERM.
 * The appliance (issue 6) owns its maps the same way.
 */
export async function serve(options: ServeOptions = {}): Promise<{ stop: () => Promise<void>; socket: string }> {
  const s = options.session ?? new Session({ bpffs: options.bpffs });
  const log = options.log ?? (() => undefined);
  let idle: TraceLog | undefined;
  const groupOpt = options.controlGroup ?? process.env.BPFBOX_CONTROL_GROUP;
  const group = groupOpt === undefined || groupOpt === '' ? undefined : groupId(groupOpt);
  const { server, socket } = serveControl(
    s.state,
    {
      async list(): Promise<MapShow[]> {
        return Promise.all(s.localMaps().map((m) => s.openLocal({ id: m.id }).show()));
      },
      open: (ref) => s.openLocal(ref),
      after: () => s.store.flush(),
      net: options.net,
      tracelog: (send) => (options.traces ?? (idle ??= new TraceLog())).follow(send),
    },
    { ...options.control, group, log: options.log },
  );
  // a flush that fails (EMFILE, a full disk) is logged and tried again at the next tick, never thrown out of a timer
  const flush = () => {
    try {
      s.store.flush(true);
    } catch (e) {
      log(`flush failed: ${(e as Error).message.split('\n')[0]}`);
    }
  };
  // what killed writers and owners left: their temporary files and sockets
  const swept = s.store.sweepTemp();
  if (swept > 0) log(`removed ${swept} temporary file(s) of writers that are gone`);
  liveOwners(s.state);
  s.store.locked(() => {
    for (const path of [...s.store.walk(), ...s.store.heldPaths()]) {
      try {
        if (s.store.read(path).kind !== 'map' || s.store.liveOwner(path)) continue;
        s.openLocal({ pinned: path });
        log(`owning ${path}`);
      } catch (e) {
        if (!(e instanceof BpfErrno)) throw e;
        log(`skipping ${path}: ${e.message}`);
      }
    }
    s.store.own({ pid: process.pid, socket });
    s.store.flush(true);
  });
  const timer = setInterval(flush, options.flushEveryMs ?? 1000);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    await new Promise<void>((ok) => server.close(() => ok()));
    s.store.locked(() => s.store.release());
  };
  await new Promise<void>((ok, no) => {
    server.once('listening', () => ok());
    server.once('error', (e) => no(new UserError(`cannot listen on ${socket}: ${e.message}`)));
  });
  return { stop, socket };
}
