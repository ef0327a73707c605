import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { MODULE_PATH } from '../live/native.js';

/** PeerCred: SO_PEERCRED of a Unix socket: who is at the other end (as of its connect(2) or listen(2)). */
export interface PeerCred {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

type PeerCredFn = (fd: number) => PeerCred;
let fn: PeerCredFn | null | undefined;

/**
 * peerCredFn: native/afpacket.c's peerCred (Node has no API for SO_PEERCRED), or null when the
 * module is not built or predates it. Loaded directly (not through loadAfPacket) so that a
 * module missing here only turns the check off; it never stops the control plane.
 */
function peerCredFn(): PeerCredFn | null {
  if (fn !== undefined) return fn;
  fn = null;
  if (process.env.BPFBOX_NO_PEERCRED === '1' || process.platform !== 'linux' || !existsSync(MODULE_PATH)) return fn;
  try {
    const m = createRequire(import.meta.url)(MODULE_PATH) as { peerCred?: PeerCredFn };
    if (typeof m.peerCred === 'function') fn = m.peerCred;
  } catch {
    /* not loadable: no peer credentials */
  }
  return fn;
}

/** peerCredAvailable: whether peerCredOf can answer (the native module is there). */
export const peerCredAvailable = (): boolean => peerCredFn() !== null;

/** peerCredOf reads the credentials of a connected Unix socket's peer; undefined without the native module. */
export function peerCredOf(sock: Socket): PeerCred | undefined {
  const f = peerCredFn();
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (!f || typeof fd !== 'number' || fd < 0) return undefined;
  return f(fd);
}
