// placeholder until the native branch lands (its native.ts replaces this file)
import { createRequire } from 'node:module';
import { UserError } from '../../uapi/userError.js';

export interface OpenOptions {
  fanoutGroup: number;
  ringFrames: number;
  frameSize: number;
  version: 2 | 3;
  offloads: 'off' | 'passthrough';
  qdiscBypass: boolean;
  promisc: boolean;
  sndbuf?: number;
}
export interface HandleStats {
  rxFrames: number;
  rxBytes: number;
  kernelDrops: number;
  kernelPackets: number;
  truncated: number;
  vlanRestored: number;
  csumCompleted: number;
  segmented: number;
  oversized: number;
  txFrames: number;
  txBytes: number;
  txErrors: number;
  txRetries: number;
}
export interface AfPacket {
  readonly DESC: Record<string, number>;
  ifindex(name: string): number;
  open(ifname: string, o: OpenOptions): number;
  poll(handles: readonly number[], timeoutMs: number): number;
  rx(handle: number, mem: Uint8Array, desc: number, maxFrames: number, slotAt: number, slotEnd: number): number;
  send(handle: number, mem: Uint8Array, list: Int32Array, count: number): number;
  stats(handle: number): HandleStats;
  close(handle: number): void;
}
export class LiveUnavailable extends UserError {}
export function loadAfPacket(): AfPacket {
  try {
    return createRequire(import.meta.url)('../../../native/build/Release/afpacket.node') as AfPacket;
  } catch (e) {
    throw new LiveUnavailable('the live-capture module is not built', { cause: e });
  }
}
