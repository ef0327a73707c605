import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { XDP_TAILROOM } from '../../hooks/xdp.js';
import { XDP_PACKET_HEADROOM } from '../../uapi/xdp.js';
import { UserError } from '../../uapi/userError.js';
import { DESC_BYTES, DescOff } from '../../vm/jit/xdpBatchDriver.js';

/**
 * OpenOptions: how `AfPacket.open` sets up one AF_PACKET socket (SOCK_RAW, bound to the
 * interface with ETH_P_ALL, PACKET_IGNORE_OUTGOING, PACKET_VNET_HDR always on).
 */
export interface OpenOptions {
  /** PACKET_FANOUT group id (low 16 bits) with PACKET_FANOUT_HASH, no DEFRAG flag; 0: no fanout. */
  readonly fanoutGroup: number;
  /** RX ring frames (tp_frame_nr, rounded up to whole blocks). */
  readonly ringFrames: number;
  /** tp_frame_size: a multiple of 16 that holds the ring header, the virtio_net_hdr and the frame (RING.gso for 64 KiB GSO frames). */
  readonly frameSize: number;
  /** TPACKET_V2 (inline: a frame is handed over at once) or TPACKET_V3 (a tap: blocks retired after 10 ms). */
  readonly version: 2 | 3;
  /** 'off': rx hands out frames as a wire carries them (checksums completed, GSO split); 'passthrough': as is, with their virtio_net_hdr. */
  readonly offloads: 'off' | 'passthrough';
  /** PACKET_QDISC_BYPASS: send() goes straight to the driver. */
  readonly qdiscBypass: boolean;
  /** PACKET_MR_PROMISC membership (dropped on close). */
  readonly promisc: boolean;
  /** SO_SNDBUFFORCE (SO_SNDBUF without CAP_NET_ADMIN), bytes. */
  readonly sndbuf?: number;
}

/** HandleStats: one handle's counters, cumulative since open (stats() folds in PACKET_STATISTICS, which the kernel resets on read). */
export interface HandleStats {
  /** Frames and bytes written into slots (a GSO frame split in 'off' mode counts its segments). */
  readonly rxFrames: number;
  readonly rxBytes: number;
  /** tp_drops, tp_packets of PACKET_STATISTICS, summed over every read (tp_packets counts the drops too). */
  readonly kernelDrops: number;
  readonly kernelPackets: number;
  /** Frames longer than a ring frame (TP_STATUS_COPY or tp_snaplen < tp_len): counted and skipped. */
  readonly truncated: number;
  /** Frames whose stripped outer tag (TP_STATUS_VLAN_VALID) went back into the data. */
  readonly vlanRestored: number;
  /** 'off' mode: partial checksums (VIRTIO_NET_HDR_F_NEEDS_CSUM) completed in software. */
  readonly csumCompleted: number;
  /** 'off' mode: the wire-size frames GSO frames were split into. */
  readonly segmented: number;
  /** Frames that could not be handled (an unknown GSO type, no room even in an empty area): dropped. */
  readonly oversized: number;
  /** send(): frames and bytes sent (frame bytes, no virtio_net_hdr), frames lost, ENOBUFS/EAGAIN retries. */
  readonly txFrames: number;
  readonly txBytes: number;
  readonly txErrors: number;
  readonly txRetries: number;
}

/** DescLayout: the descriptor offsets the module writes, DescOff plus the descriptor's size. */
export type DescLayout = typeof DescOff & { readonly BYTES: typeof DESC_BYTES };

/**
 * AfPacket: the module's functions. A handle is a small integer, valid on the thread that
 * opened it. `mem` is a Uint8Array over the whole shared WebAssembly.Memory; addresses are
 * offsets into it, checked against its length (a bad one throws RangeError). Errors from the
 * system are Errors with `.code` (the errno's name) and `.errno`: `open b9: no such device (ENODEV)`.
 */
export interface AfPacket {
  readonly DESC: DescLayout;
  /** if_nametoindex; throws ENODEV. */
  ifindex(name: string): number;
  open(ifname: string, o: OpenOptions): number;
  /** Bit i set when handles[i] has frames ready: the rings first, poll(2) for up to timeoutMs only if none is. At most 32 handles. */
  poll(handles: readonly number[], timeoutMs: number): number;
  /**
   * rx copies ready frames (non-blocking) into slots from slotAt (64-byte aligned) up to
   * slotEnd, one descriptor each at desc + 32 * k, at most maxFrames; returns how many. A slot
   * is rxSlotRoom(len) bytes, the frame at slot + XDP_PACKET_HEADROOM, its virtio_net_hdr at
   * slot + 0 in 'passthrough' (zeros in 'off').
   */
  rx(handle: number, mem: Uint8Array, desc: number, maxFrames: number, slotAt: number, slotEnd: number): number;
  /** send: `count` triples [addr, len, vnetAt] of `list` (vnetAt 0: a zero virtio_net_hdr), sendmmsg in chunks of 64; returns frames sent. */
  send(handle: number, mem: Uint8Array, list: Int32Array, count: number): number;
  stats(handle: number): HandleStats;
  close(handle: number): void;
  /** permission: opens and closes a bare AF_PACKET socket; throws EPERM without CAP_NET_RAW. */
  permission(): void;
  /**
   * peerCred: SO_PEERCRED of a connected Unix socket's fd: the peer's pid, uid and gid as of its connect(2)
   * or listen(2); throws EBADF, ENOTSOCK. The control socket's checks use it (appliance/service/peer.ts);
   * a module built before it lacks it, so callers test for it.
   */
  peerCred?(fd: number): { pid: number; uid: number; gid: number };
}

/** RING: ring geometries for OpenOptions. `mtu` holds a 1500-byte MTU's frames; `gso` holds 64 KiB GSO frames (generic XDP after GRO). */
export const RING = {
  mtu: { ringFrames: 4096, frameSize: 2048 },
  gso: { ringFrames: 512, frameSize: 65536 + 256 },
} as const;

/** rxSlotRoom: the bytes rx gives a frame of `len` bytes: headroom, frame and tailroom, 64-byte aligned, at least a page. */
export const rxSlotRoom = (len: number): number => Math.max(4096, Math.ceil((XDP_PACKET_HEADROOM + len + XDP_TAILROOM) / 64) * 64);

/** LiveUnavailable: live capture cannot run here; the message says what is missing and how to get it. */
export class LiveUnavailable extends UserError {}

/** MODULE_PATH: where the install script's node-gyp build leaves the module (dist/appliance/live/ → native/build/Release/). */
export const MODULE_PATH = fileURLToPath(new URL('../../../native/build/Release/afpacket.node', import.meta.url));

const HOW = 'apt-get install -y g++ make python3, then npm rebuild bpfbox';
let loaded: AfPacket | undefined;

/** loadAfPacket loads the module once per thread, or throws LiveUnavailable naming what is missing. */
export function loadAfPacket(): AfPacket {
  if (loaded) return loaded;
  if (process.platform !== 'linux') throw new LiveUnavailable(`live capture: needs Linux (AF_PACKET); this is ${process.platform}`);
  if (!existsSync(MODULE_PATH)) throw new LiveUnavailable(`live capture: the module was not built (no ${MODULE_PATH}): ${HOW}`);
  let m: AfPacket;
  try {
    m = createRequire(import.meta.url)(MODULE_PATH) as AfPacket;
  } catch (e) {
    throw new LiveUnavailable(`live capture: ${MODULE_PATH} does not load (${(e as Error).message.split('\n')[0]}): ${HOW}`, { cause: e });
  }
  const want = { ...DescOff, BYTES: DESC_BYTES };
  for (const [k, v] of Object.entries(want)) {
    if (m.DESC[k as keyof DescLayout] !== v)
      throw new LiveUnavailable(
        `live capture: ${MODULE_PATH} is stale (descriptor ${k} at ${m.DESC[k as keyof DescLayout]}, not ${v}): npm rebuild bpfbox`,
      );
  }
  return (loaded = m);
}

/** livePermission checks that this process may open AF_PACKET sockets (CAP_NET_RAW), or throws LiveUnavailable saying how. */
export function livePermission(af: AfPacket = loadAfPacket()): void {
  try {
    af.permission();
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'EPERM' && code !== 'EACCES') throw e;
    throw new LiveUnavailable(
      'live capture: needs root or CAP_NET_RAW (setcap cap_net_raw,cap_net_admin+ep $(which node)), to open AF_PACKET sockets',
      { cause: e },
    );
  }
}
