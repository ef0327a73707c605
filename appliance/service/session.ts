import { hostTask } from '../../kernel/hostTask.js';
import type { EngineName } from '../../vm/engine.js';
import { DEFAULT_ENGINE, engineByName } from '../../vm/engines.js';
import { availableParallelism } from 'node:os';
import { BpfErrno, Errno } from '../../uapi/errno.js';
import { Kernel } from '../../kernel/kernel.js';
import { MapObject } from '../../kernel/objects.js';
import { FilePinStore, stateDir } from '../bpffs/filePinStore.js';
import { RemoteMap, call, liveOwners } from './control.js';
import type { MapShow } from '../cli/mapOutput.js';
import { LocalMap, type MapTarget } from './mapTarget.js';
import type { RouteTable } from '../config/routes.js';

/** MapRef is how bpftool names a map on its command line: `id N`, `pinned FILE`, `name NAME`. */
export type MapRef = { readonly id: number } | { readonly pinned: string } | { readonly name: string };

/** SessionOptions: the bpffs state directory (`--bpffs`), the table bpf_fib_lookup consults (`--routes`). */
export interface SessionOptions {
  readonly bpffs?: string;
  readonly routes?: RouteTable;
  /** Possible CPUs (per-CPU map slots); default: this machine's. The appliance gives its worker count. */
  readonly ncpus?: number;
  /** The engine test runs use (`--engine`); default: DEFAULT_ENGINE (the JIT). */
  readonly engine?: EngineName;
}

/**
 * Session is one bpfbox process's access to the BPF objects of this machine: its own
 * Kernel, the pins under the state directory (restored on demand), and the objects that
 * other, long-running bpfbox processes hold live (reached through their control sockets).
 * A CLI command holds the state lock from start to `finish`, so two commands never
 * interleave their changes to the same pin file.
 */
export class Session {
  readonly state: string;
  readonly store: FilePinStore;
  readonly kernel: Kernel;
  #locked = false;
  readonly #opened = new Map<string, MapTarget>();
  /** While a repeated test run runs: its trace lines by text, with how often each came (collectTraces). */
  #traces?: Map<string, number>;

  constructor(options: SessionOptions = {}) {
    this.state = stateDir(options.bpffs);
    this.store = new FilePinStore(this.state);
    this.kernel = new Kernel({
      ncpus: options.ncpus ?? availableParallelism(),
      pins: this.store,
      allocId: this.store.allocId,
      onWrite: (o) => this.store.touched(o),
      // bpf_trace_printk lines, as trace_pipe would show them
      runtime: {
        trace: (line) => this.#trace(line),
        ...options.routes,
        engine: engineByName(options.engine ?? DEFAULT_ENGINE),
        // the cgroup and pid namespace bpfbox runs in: what current-task helpers answer
        task: hostTask(),
      },
    });
    this.store.attach(this.kernel);
  }

  /** #trace prints a bpf_trace_printk line as trace_pipe would show it, or counts it while collecting. */
  #trace(line: string): void {
    if (this.#traces) this.#traces.set(line, (this.#traces.get(line) ?? 0) + 1);
    else process.stderr.write(`bpf_trace_printk: ${line}\n`);
  }

  /**
   * collectTraces: from now until flushTraces, trace lines are counted, not printed: a
   * `prog run … repeat 1000` prints each distinct line once, with how many times it came.
   */
  collectTraces(): void {
    this.#traces = new Map();
  }

  /** flushTraces prints what collectTraces counted (each line once, in first-seen order, `(N times)` when more than once) and stops collecting. */
  flushTraces(): void {
    const t = this.#traces;
    this.#traces = undefined;
    for (const [line, n] of t ?? []) process.stderr.write(`bpf_trace_printk: ${line}${n > 1 ? ` (${n} times)` : ''}\n`);
  }

  /** begin takes the state lock for the rest of the command. */
  begin(): this {
    this.store.acquire();
    this.#locked = true;
    return this;
  }

  /** finish writes changed pins and releases the lock. */
  finish(): void {
    this.store.flush();
    if (this.#locked) this.store.releaseLock();
    this.#locked = false;
  }

  #local(fd: number): LocalMap {
    const obj = this.kernel.process.mapOf(fd).map;
    return new LocalMap(this.kernel, fd, () => this.store.pathsOf(obj));
  }

  #check(r: number, what: string): number {
    if (r < 0) throw new BpfErrno(-r, what);
    return r;
  }

  /** openPinned opens a pinned map: remote if a live owner holds it, else restored here. */
  openPinned(path: string): MapTarget {
    const file = this.store.read(path);
    if (file.kind !== 'map') throw new BpfErrno(Errno.EINVAL, `${path} is not a map`);
    const owner = this.store.liveOwner(path);
    if (owner) return new RemoteMap(owner.socket, { pinned: path });
    return this.#local(this.#check(this.kernel.bpf('BPF_OBJ_GET', { pathname: path }), `open ${path}`));
  }

  /** all lists every map: those of live owners, then pinned or held maps nobody holds live, then this process's. */
  async all(): Promise<MapTarget[]> {
    const out: MapTarget[] = [];
    const seen = new Set<number>();
    this.store.sweepHeld();
    for (const socket of liveOwners(this.state)) {
      const r = await call(socket, { op: 'list' }).catch(() => undefined);
      if (!r || !('ok' in r)) continue;
      for (const m of r.ok as MapShow[]) {
        if (seen.has(m.id)) continue;
        seen.add(m.id);
        out.push(new RemoteMap(socket, { id: m.id }));
      }
    }
    // pins, then the maps that only pinned programs hold (the kernel lists those too)
    for (const path of [...this.store.walk(), ...this.store.heldPaths()]) {
      let file;
      try {
        file = this.store.read(path);
      } catch {
        continue;
      }
      if (file.kind !== 'map' || seen.has(file.id) || this.store.liveOwner(path)) continue;
      const t = this.openPinned(path);
      seen.add((await t.show()).id);
      out.push(t);
    }
    for (const m of this.kernel.maps.values()) {
      if (seen.has(m.id)) continue;
      seen.add(m.id);
      out.push(this.#local(this.#check(this.kernel.bpf('BPF_MAP_GET_FD_BY_ID', { map_id: m.id }), 'open')));
    }
    return out;
  }

  /** resolve finds the maps a MapRef names (a name may match several; none is ENOENT). */
  async resolve(ref: MapRef): Promise<MapTarget[]> {
    if ('pinned' in ref) return [this.openPinned(ref.pinned)];
    const all = await this.all();
    const out: MapTarget[] = [];
    for (const t of all) {
      const s = await t.show();
      if ('id' in ref ? s.id === ref.id : s.name === ref.name) out.push(t);
    }
    if (out.length === 0) throw new BpfErrno(Errno.ENOENT, 'id' in ref ? `no map with id ${ref.id}` : `no map named ${ref.name}`);
    return out;
  }

  /** localMaps lists this process's live maps (what an owner serves). */
  localMaps(): MapObject[] {
    return [...this.kernel.maps.values()];
  }

  /** openLocal returns a target for a map of this process by id or pin path (owners use it). */
  openLocal(ref: { pinned: string } | { id: number }): MapTarget {
    const key = 'pinned' in ref ? `pinned:${ref.pinned}` : `id:${ref.id}`;
    const cached = this.#opened.get(key);
    if (cached) return cached;
    const fd =
      'pinned' in ref
        ? this.#check(this.kernel.bpf('BPF_OBJ_GET', { pathname: ref.pinned }), `open ${ref.pinned}`)
        : this.#check(this.kernel.bpf('BPF_MAP_GET_FD_BY_ID', { map_id: ref.id }), `open id ${ref.id}`);
    const t = this.#local(fd);
    this.#opened.set(key, t);
    return t;
  }
}
