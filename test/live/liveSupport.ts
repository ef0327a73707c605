import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter } from '../../pcaps/pcapWriter.js';
import { openCapture } from '../../pcaps/open.js';
import type { LiveSummary } from '../../appliance/live/bridge.js';
import { loadAfPacket } from '../../appliance/live/native.js';
import { REPO_ROOT } from '../support/paths.js';
import { type Topology, HOST_A, HOST_C, stopChild } from '../support/topology.js';

import { CLI } from '../support/cli.js';

export { CLI };
export const LIVE_OBJ = join(REPO_ROOT, 'bpf/live.o');
/** The tests' own state directory for offloads left off (BPFBOX_RUN_DIR), not the host's /run/bpfbox. */
export const RUN_DIR = mkdtempSync(join(tmpdir(), 'bpfbox-run-'));
process.on('exit', () => rmSync(RUN_DIR, { recursive: true, force: true }));

/** liveUnavailable: why the live tests cannot run here (the native module), or undefined. */
export function liveUnavailable(): string | undefined {
  try {
    loadAfPacket();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const mac = (s: string) => Buffer.from(s.replace(/:/g, ''), 'hex');
const ip4 = (s: string) => Buffer.from(s.split('.').map(Number));

/** csum: the Internet checksum (RFC 1071) of `b`. */
export function csum(b: Uint8Array, start = 0, end = b.length): number {
  let s = 0;
  for (let i = start; i + 1 < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if ((end - start) & 1) s += b[end - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** udpFrame: an Ethernet / IPv4 / UDP frame from host A to host C (or `o`'s), with `payload` bytes; checksums valid (UDP's 0: none). */
export function udpFrame(o: {
  sport: number;
  dport: number;
  payload: number;
  ttl?: number;
  src?: string;
  dst?: string;
  srcMac?: string;
  dstMac?: string;
  id?: number;
}): Buffer {
  const ipLen = 20 + 8 + o.payload;
  const f = Buffer.alloc(14 + ipLen);
  mac(o.dstMac ?? HOST_C.mac).copy(f, 0);
  mac(o.srcMac ?? HOST_A.mac).copy(f, 6);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(ipLen, 16);
  f.writeUInt16BE(o.id ?? 0, 18);
  f[22] = o.ttl ?? 64;
  f[23] = 17;
  ip4(o.src ?? HOST_A.ip).copy(f, 26);
  ip4(o.dst ?? HOST_C.ip).copy(f, 30);
  f.writeUInt16BE(csum(f, 14, 34), 24);
  f.writeUInt16BE(o.sport, 34);
  f.writeUInt16BE(o.dport, 36);
  f.writeUInt16BE(8 + o.payload, 38);
  for (let i = 0; i < o.payload; i++) f[42 + i] = (i * 7 + o.sport) & 0xff;
  return f;
}

/** tagged: `frame` with a VLAN tag (TPID, VID) put after the MACs. */
export function tagged(frame: Buffer, tpid: number, vid: number): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16BE(tpid, 0);
  tag.writeUInt16BE(vid, 2);
  return Buffer.concat([frame.subarray(0, 12), tag, frame.subarray(12)]);
}

/** writePcap writes frames to a classic pcap (1 ms apart). */
export function writePcap(path: string, frames: readonly Uint8Array[]): string {
  const w = new PcapWriter(path);
  frames.forEach((data, i) => w.write({ data, tsSec: 1_700_000_000, tsNsec: i * 1_000_000 }));
  w.close();
  return path;
}

/** readFrames: the frames of a capture (tcpdump's), copied. */
export function readFrames(path: string): Buffer[] {
  const r = openCapture(path);
  const out: Buffer[] = [];
  try {
    for (let p = r.next(); p; p = r.next()) out.push(Buffer.from(p.data));
  } finally {
    r.close();
  }
  return out;
}

/** LiveRun: what `bpfbox live --json` left: its summary, exit code and stderr. */
export interface LiveRun {
  readonly summary?: LiveSummary;
  readonly code: number | null;
  readonly stderr: string;
  readonly stdout: string;
}

/**
 * runLive starts `bpfbox live ARGS --json` in nsB, waits until it says its sockets are open
 * (at most 60 s), runs `during`, waits `settleMs` for the last frames, stops it with SIGINT
 * and returns its summary.
 */
export async function runLive(
  t: Topology,
  args: readonly string[],
  during: () => Promise<void> | void,
  o: { env?: NodeJS.ProcessEnv; settleMs?: number } = {},
): Promise<LiveRun> {
  const child = t.spawn(t.nsB, ['node', CLI, 'live', ...args, '--json'], { env: { ...process.env, BPFBOX_RUN_DIR: RUN_DIR, ...o.env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const opened = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 60_000);
    const check = () => {
      if (stderr.includes('Ctrl-C stops')) done(true);
    };
    const done = (v: boolean) => {
      clearTimeout(timer);
      child.stderr!.off('data', check);
      child.off('exit', exited);
      resolve(v);
    };
    const exited = () => done(false);
    child.stderr!.on('data', check);
    child.once('exit', exited);
  });
  if (!opened) {
    const code = await stopChild(child, 'SIGKILL');
    return { code, stderr, stdout };
  }
  await during();
  await new Promise((r) => setTimeout(r, o.settleMs ?? 500));
  const code = await stopChild(child, 'SIGINT');
  let summary: LiveSummary | undefined;
  try {
    summary = JSON.parse(stdout) as LiveSummary;
  } catch {
    summary = undefined;
  }
  return { summary, code, stderr, stdout };
}
