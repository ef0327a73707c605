import { ProgType } from '../../uapi/progType.js';
import { UserError } from '../../uapi/userError.js';
import type { ProgObject } from '../../kernel/objects.js';
import type { AfPacket } from './native.js';

// plan: what a live bridge checks before a socket opens (the interfaces, their pairing, the
// program's type), and the PACKET_FANOUT ids its interfaces take.

/** LiveError: a live bridge cannot start as asked: an interface, a permission, a program type. One line says which. */
export class LiveError extends UserError {}

/** LivePair: an interface and its peer (a bridge), or an interface alone (a tap). */
export interface LivePair {
  readonly dev: string;
  readonly peer?: string;
}

/** checkType: a program type live runs (xdp, tc; a socket filter only in a tap). */
export function checkType(prog: ProgObject, bridge: boolean): void {
  const t = prog.type;
  if (
    !(
      [
        ProgType.BPF_PROG_TYPE_XDP,
        ProgType.BPF_PROG_TYPE_SCHED_CLS,
        ProgType.BPF_PROG_TYPE_SCHED_ACT,
        ProgType.BPF_PROG_TYPE_SOCKET_FILTER,
      ] as number[]
    ).includes(t)
  )
    throw new LiveError(`live: program ${prog.name} is of type ${t}; live runs xdp, tc and socket filter programs`);
  if (bridge && t === ProgType.BPF_PROG_TYPE_SOCKET_FILTER)
    throw new LiveError(
      `live: program ${prog.name} is a socket filter, which filters what a socket sees: run it in a tap (--dev without --peer)`,
    );
}

/** checkPlan: the interfaces in the bridge's order (dev, peer of each pair) with their peers, and the program type, checked. */
export function checkPlan(pairs: readonly LivePair[], prog: ProgObject): { name: string; flag: string; peer: number }[] {
  if (!pairs.length) throw new LiveError('live needs --dev IF');
  checkType(
    prog,
    pairs.some((p) => p.peer !== undefined),
  );
  const out: { name: string; flag: string; peer: number }[] = [];
  const seen = new Set<string>();
  for (const p of pairs) {
    for (const [name, flag] of [[p.dev, '--dev'], ...(p.peer !== undefined ? [[p.peer, '--peer']] : [])] as const) {
      if (seen.has(name))
        throw new LiveError(
          p.peer === name && p.dev === name
            ? `--peer ${name} is the --dev: a bridge joins two interfaces`
            : `${flag} ${name}: the interface is given twice`,
        );
      seen.add(name);
    }
    const at = out.length;
    out.push({ name: p.dev, flag: '--dev', peer: p.peer !== undefined ? at + 1 : -1 });
    if (p.peer !== undefined) out.push({ name: p.peer, flag: '--peer', peer: at });
  }
  return out;
}

export function ifindexOf(af: AfPacket, name: string, flag: string): number {
  try {
    return af.ifindex(name);
  } catch (e) {
    throw new LiveError(`${flag} ${name}: no such interface (in this network namespace)`, { field: flag, cause: e });
  }
}

/**
 * The PACKET_FANOUT ids this process's bridges hold. Ids are per network namespace, and the
 * kernel refuses (EINVAL) a socket that joins an id bound to another device, so every
 * interface of every bridge in the process (serve runs several) takes an id of its own.
 */
const fanoutInUse = new Set<number>();

/** fanoutGroup: a PACKET_FANOUT id no bridge of this process holds, starting from one unlikely to meet another process's. */
export function fanoutGroup(): number {
  const base = (process.pid & 0xfff) << 4;
  for (let k = 0; k < 0x10000; k++) {
    const id = (base + k) & 0xffff;
    if (id === 0 || fanoutInUse.has(id)) continue;
    fanoutInUse.add(id);
    return id;
  }
  throw new LiveError('live: every PACKET_FANOUT group id is in use');
}

/** releaseFanoutGroup gives back an id fanoutGroup handed out (the bridge stopped). */
export function releaseFanoutGroup(id: number): void {
  fanoutInUse.delete(id);
}

/** openError: a worker could not open its sockets: the errno says why; the line says what to do. */
export function openError(message: string, code?: string): LiveError {
  if (code === 'EPERM' || code === 'EACCES')
    return new LiveError(
      `live: ${message}: AF_PACKET sockets need root or CAP_NET_RAW (sudo, or setcap cap_net_raw,cap_net_admin+ep on node)`,
    );
  return new LiveError(`live: ${message}`);
}
