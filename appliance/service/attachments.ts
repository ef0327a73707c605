import { ProgType } from '../../uapi/progType.js';
import { UserError } from '../../uapi/userError.js';
import type { Kernel } from '../../kernel/kernel.js';
import type { ProgObject } from '../../kernel/objects.js';
import { LiveBridge, type LiveOptions } from '../live/bridge.js';
import { IFACE_COUNTER_NAMES, type IfaceCounter } from '../live/counters.js';
import type { Offloads, OnError } from '../live/liveProtocol.js';
import { loadAfPacket } from '../live/native.js';
import { displayName } from '../cli/progOutput.js';
import type { AttachKind, NetShow, NetShowEntry } from './netRequest.js';

/** NetError: a `net` command (or a config's interface) that cannot be done as asked; one line names the argument. */
export class NetError extends UserError {}

/** AttachmentsOptions: the service's kernel and what every bridge shares with the replay pipelines. */
export interface AttachmentsOptions extends Pick<LiveOptions, 'engine' | 'routes' | 'neighbours' | 'devices' | 'log' | 'warn'> {
  readonly kernel: Kernel;
  /** Workers of an attachment that names none; at most the kernel's CPUs. */
  readonly workers: number;
}

/** AttachOptions: one attachment: the program at the hook of `dev`, bridged to `peer` or a tap. */
export interface AttachOptions {
  readonly kind: AttachKind;
  readonly prog: ProgObject;
  readonly dev: string;
  readonly peer?: string;
  readonly offloads?: Offloads;
  readonly onError?: OnError;
  readonly workers?: number;
}

/** LiveTotals: what the live metrics read at scrape time: counts since the service started, detached bridges included. */
export interface LiveTotals {
  /** interface → counter → count. */
  readonly frames: ReadonlyMap<string, Readonly<Record<IfaceCounter, number>>>;
  /** Run frames by the attachment's interface, the program and the verdict's kernel name. */
  readonly verdicts: readonly { readonly dev: string; readonly program: string; readonly verdict: string; readonly value: number }[];
  /** attachment interface → worker failures. */
  readonly failures: ReadonlyMap<string, number>;
}

interface Attachment {
  readonly kind: AttachKind;
  readonly dev: string;
  readonly peer?: string;
  readonly workers: number;
  readonly bridge: LiveBridge;
  /** An fd on the program, as a bpf_link holds its program: it stays loaded while attached. */
  fd: number;
  /** The bridge's verdict counts when its current program started (the bridge counts across a replace). */
  base: Record<string, number>;
}

/** The program types each hook runs. */
const HOOK_TYPES: Record<AttachKind, readonly number[]> = {
  xdp: [ProgType.BPF_PROG_TYPE_XDP],
  tc: [ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_SCHED_ACT],
  socket: [ProgType.BPF_PROG_TYPE_SOCKET_FILTER],
};

const KIND_NAMES = { xdp: 'an xdp program', tc: 'a tc program', socket: 'a socket filter', other: 'of a type live does not run' } as const;

/** kindOf: the hook a program runs at by its type (a config's interface names a program, not a hook). */
export function kindOf(prog: ProgObject): AttachKind | undefined {
  return (Object.keys(HOOK_TYPES) as AttachKind[]).find((k) => HOOK_TYPES[k].includes(prog.type));
}

/**
 * Attachments: the service's live interfaces, one LiveBridge per attachment (an interface,
 * its peer if any, one program), all in the service's kernel, so a map change through the
 * control socket reaches the running workers. One bridge per attachment rather than one per
 * program: `net attach` and `net detach` act on one interface without stopping the others,
 * and a program replaced on one interface stays on the rest. (A devmap redirect reaches the
 * interfaces of its own attachment only.) Commands run one at a time; counts of detached
 * bridges and replaced programs are kept, so the metrics only grow.
 */
export class Attachments {
  readonly #o: AttachmentsOptions;
  readonly #byDev = new Map<string, Attachment>();
  readonly #frames = new Map<string, Record<IfaceCounter, number>>();
  readonly #verdicts = new Map<string, { dev: string; program: string; verdict: string; value: number }>();
  readonly #failures = new Map<string, number>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(o: AttachmentsOptions) {
    this.#o = o;
  }

  /** #serial runs `f` after every command before it. */
  #serial<T>(f: () => Promise<T>): Promise<T> {
    const r = this.#queue.then(f);
    this.#queue = r.catch(() => undefined);
    return r;
  }

  /**
   * attach runs `prog` at `dev`'s hook: a new interface starts a bridge; an interface already
   * attached at that hook gets the program at its workers' next batch boundary (its peer and
   * settings stay; naming others is an error: detach first).
   */
  attach(a: AttachOptions): Promise<NetShowEntry> {
    return this.#serial(async () => {
      const types = HOOK_TYPES[a.kind];
      if (!types.includes(a.prog.type))
        throw new NetError(
          `prog ${displayName(a.prog)} (id ${a.prog.id}) is ${KIND_NAMES[kindOf(a.prog) ?? 'other']}, not ${KIND_NAMES[a.kind]}`,
        );
      const now = this.#byDev.get(a.dev);
      if (now) return this.#replace(now, a);
      const owner = this.#holder(a.dev) ?? (a.peer !== undefined ? this.#holder(a.peer) : undefined);
      if (owner) {
        const which = owner.dev === a.dev || owner.dev === a.peer ? owner.dev : owner.peer!;
        throw new NetError(
          `dev ${which}: is the peer of ${owner.dev}'s ${owner.kind} attachment (net detach ${owner.kind} dev ${owner.dev})`,
        );
      }
      if (a.peer === a.dev) throw new NetError(`peer ${a.peer}: is the dev: a bridge joins two interfaces`);
      if (a.kind === 'socket' && a.peer !== undefined)
        throw new NetError(`prog ${displayName(a.prog)}: a socket filter runs only in a tap (no peer)`);
      const af = loadAfPacket();
      for (const [word, name] of [['dev', a.dev], ...(a.peer !== undefined ? [['peer', a.peer]] : [])] as const) {
        try {
          af.ifindex(name);
        } catch (e) {
          throw new NetError(`${word} ${name}: no such interface (in serve's network namespace)`, { field: word, cause: e });
        }
      }
      const ncpus = this.#o.kernel.ncpus;
      const workers = a.workers ?? this.#o.workers;
      if (workers > ncpus) throw new NetError(`workers ${workers}: the service's kernel has ${ncpus} CPUs`);
      const bridge = await LiveBridge.start({
        ...this.#o,
        prog: a.prog,
        pairs: [{ dev: a.dev, peer: a.peer }],
        workers,
        offloads: a.offloads,
        onError: a.onError,
      });
      const att: Attachment = { kind: a.kind, dev: a.dev, peer: a.peer, workers, bridge, fd: this.#hold(a.prog), base: {} };
      this.#byDev.set(a.dev, att);
      void bridge.done.catch((e: Error) => {
        this.#o.warn?.(`${a.dev}: ${e.message}; detaching`);
        void this.detach(att.kind, att.dev).catch(() => undefined);
      });
      return this.#entry(att);
    });
  }

  async #replace(now: Attachment, a: AttachOptions): Promise<NetShowEntry> {
    if (now.kind !== a.kind)
      throw new NetError(
        `dev ${a.dev}: runs a ${now.kind} program; a ${a.kind} program cannot replace it (net detach ${now.kind} dev ${a.dev})`,
      );
    const s = now.bridge.summary();
    const differs: [string, unknown, unknown][] = [
      ['peer', a.peer, now.peer],
      ['offloads', a.offloads, s.offloads],
      ['on_error', a.onError, s.on_error],
      ['workers', a.workers, now.workers],
    ];
    for (const [word, want, has] of differs)
      if (want !== undefined && want !== has)
        throw new NetError(
          `dev ${a.dev}: is attached with ${word} ${has ?? '(none)'}; to change it, net detach ${now.kind} dev ${a.dev} first`,
        );
    const old = now.bridge.prog;
    await now.bridge.replace(a.prog);
    this.#retire(now, old, now.bridge.summary().verdict_names);
    now.base = { ...now.bridge.summary().verdict_names };
    this.#o.kernel.close(now.fd);
    now.fd = this.#hold(a.prog);
    this.#o.log?.(`${a.dev}: ${displayName(old)} (id ${old.id}) replaced by ${displayName(a.prog)} (id ${a.prog.id})`);
    return this.#entry(now);
  }

  /** detach stops `dev`'s bridge (its workers finish their batch; offloads restored). */
  detach(kind: AttachKind, dev: string): Promise<void> {
    return this.#serial(async () => {
      const att = this.#byDev.get(dev);
      if (!att) {
        const owner = this.#holder(dev);
        throw new NetError(
          owner
            ? `dev ${dev}: is the peer of ${owner.dev}'s attachment (net detach ${owner.kind} dev ${owner.dev})`
            : `dev ${dev}: nothing attached`,
        );
      }
      if (att.kind !== kind) throw new NetError(`dev ${dev}: has ${KIND_NAMES[att.kind]} attached, not ${kind}`);
      await this.#stop(att);
    });
  }

  /** stopAll detaches everything (the service stops). */
  stopAll(): Promise<void> {
    return this.#serial(async () => {
      await Promise.all([...this.#byDev.values()].map((a) => this.#stop(a)));
    });
  }

  async #stop(att: Attachment): Promise<void> {
    this.#byDev.delete(att.dev);
    const prog = att.bridge.prog;
    const s = await att.bridge.stop();
    for (const [name, c] of Object.entries(s.interfaces)) {
      const into = this.#framesOf(name);
      for (const k of IFACE_COUNTER_NAMES) into[k] += c[k];
    }
    this.#failures.set(att.dev, (this.#failures.get(att.dev) ?? 0) + s.worker_failures);
    this.#retire(att, prog, s.verdict_names);
    this.#o.kernel.close(att.fd);
    this.#o.log?.(`${att.dev}: detached ${displayName(prog)} (id ${prog.id})`);
  }

  /** #retire keeps what `prog` counted on `att` (the bridge's counts now, less those before it started). */
  #retire(att: Attachment, prog: ProgObject, now: Record<string, number>): void {
    for (const [verdict, n] of Object.entries(now)) {
      const program = displayName(prog);
      const key = `${att.dev}\0${program}\0${verdict}`;
      const v = this.#verdicts.get(key) ?? { dev: att.dev, program, verdict, value: 0 };
      v.value += n - (att.base[verdict] ?? 0);
      this.#verdicts.set(key, v);
    }
  }

  #framesOf(name: string): Record<IfaceCounter, number> {
    let c = this.#frames.get(name);
    if (!c) this.#frames.set(name, (c = Object.fromEntries(IFACE_COUNTER_NAMES.map((k) => [k, 0])) as Record<IfaceCounter, number>));
    return c;
  }

  /** #holder: the attachment `name` is part of (as its dev or its peer). */
  #holder(name: string): Attachment | undefined {
    return [...this.#byDev.values()].find((a) => a.dev === name || a.peer === name);
  }

  #hold(prog: ProgObject): number {
    const fd = this.#o.kernel.bpf('BPF_PROG_GET_FD_BY_ID', { prog_id: prog.id });
    if (fd < 0) throw new NetError(`prog id ${prog.id}: is gone`);
    return fd;
  }

  #entry(a: Attachment): NetShowEntry {
    const s = a.bridge.summary();
    const [dev, peer] = [a.bridge.interfaces[0], a.bridge.interfaces[1]];
    return {
      devname: dev.name,
      ifindex: dev.ifindex,
      mode: peer ? 'bridge' : 'tap',
      ...(peer ? { peer: peer.name, peer_ifindex: peer.ifindex } : {}),
      id: a.bridge.prog.id,
      name: displayName(a.bridge.prog),
      offloads: s.offloads,
      on_error: s.on_error,
      workers: a.workers,
    };
  }

  /** show lists the attachments by hook (`dev`: only that interface's). */
  show(dev?: string): NetShow {
    const out: NetShow = { xdp: [], tc: [], socket: [] };
    for (const a of this.#byDev.values()) if (dev === undefined || a.dev === dev || a.peer === dev) out[a.kind].push(this.#entry(a));
    return out;
  }

  /** totals: the counts since the service started: detached bridges' and replaced programs' kept, running bridges' read now. */
  totals(): LiveTotals {
    const frames = new Map<string, Record<IfaceCounter, number>>();
    for (const [name, c] of this.#frames) frames.set(name, { ...c });
    const verdicts = new Map([...this.#verdicts].map(([k, v]) => [k, { ...v }]));
    const failures = new Map(this.#failures);
    for (const a of this.#byDev.values()) {
      const s = a.bridge.summary();
      for (const [name, c] of Object.entries(s.interfaces)) {
        const into = frames.get(name) ?? (Object.fromEntries(IFACE_COUNTER_NAMES.map((k) => [k, 0])) as Record<IfaceCounter, number>);
        for (const k of IFACE_COUNTER_NAMES) into[k] += c[k];
        frames.set(name, into);
      }
      const program = displayName(a.bridge.prog);
      for (const [verdict, n] of Object.entries(s.verdict_names)) {
        const key = `${a.dev}\0${program}\0${verdict}`;
        const v = verdicts.get(key) ?? { dev: a.dev, program, verdict, value: 0 };
        v.value += n - (a.base[verdict] ?? 0);
        verdicts.set(key, v);
      }
      failures.set(a.dev, (failures.get(a.dev) ?? 0) + s.worker_failures);
    }
    return { frames, verdicts: [...verdicts.values()], failures };
  }
}
