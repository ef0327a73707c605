import type { Offloads, OnError } from '../live/liveProtocol.js';

/**
 * AttachKind: the hook an attachment runs at. `bpfbox net attach` takes bpftool's attach
 * types (ATTACH_TYPES); a socket filter runs only in a tap and is attached by a config.
 */
export type AttachKind = 'xdp' | 'tc' | 'socket';

/**
 * ATTACH_TYPES: bpftool's `net attach ATTACH_TYPE` words bpfbox takes, and the hook each
 * means. bpfbox's XDP is generic XDP (an skb's frame, at L2) whatever the word; tc runs at
 * ingress, as tcx_ingress.
 */
export const ATTACH_TYPES = { xdp: 'xdp', xdpgeneric: 'xdp', tc: 'tc', tcx_ingress: 'tc' } as const satisfies Record<string, AttachKind>;
export type AttachType = keyof typeof ATTACH_TYPES;

/** NetProgRef: how bpftool names a program on its command line: `id N`, `name NAME`, `pinned PATH`. */
export type NetProgRef = { readonly id: number } | { readonly name: string } | { readonly pinned: string };

/** NetRequest: a `bpfbox net` command as it travels to a running serve's control socket. */
export type NetRequest =
  | { readonly verb: 'show'; readonly dev?: string }
  | {
      readonly verb: 'attach';
      readonly kind: AttachKind;
      readonly prog: NetProgRef;
      readonly dev: string;
      readonly peer?: string;
      readonly offloads?: Offloads;
      readonly onError?: OnError;
      readonly workers?: number;
    }
  | { readonly verb: 'detach'; readonly kind: AttachKind; readonly dev: string };

/**
 * NetShowEntry: one attachment as `bpfbox net show` lists it (bpftool's `devname(ifindex)
 * mode id N`, plus the bridge's settings): mode 'bridge' between devname and peer, 'tap' on
 * devname alone.
 */
export interface NetShowEntry {
  readonly devname: string;
  readonly ifindex: number;
  readonly mode: 'bridge' | 'tap';
  readonly peer?: string;
  readonly peer_ifindex?: number;
  readonly id: number;
  readonly name: string;
  readonly offloads: Offloads;
  readonly on_error: OnError;
  readonly workers: number;
}

/** NetShow: the attachments by hook, as bpftool's `net show -j` groups them (one object in an array). */
export type NetShow = Record<AttachKind, NetShowEntry[]>;
