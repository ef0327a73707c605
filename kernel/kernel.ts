import { AddressSpace } from '../vm/memory.js';
import type { CmdName } from '../uapi/cmd.js';
import type { AttrOf } from './attr.js';
import { HookRuntime, type RuntimeOptions } from '../hooks/runtime.js';
import { BpfErrno } from '../uapi/errno.js';
import { type AnyObject, LinkObject, MapObject, ProgObject } from './objects.js';
import { StructOpsRegistry } from './structOps/registry.js';
import { tcpCongestionOps } from './structOps/tcpCongestionOps.js';
import { MemoryPinStore, type PinStore } from './pins.js';
import { BpfProcess } from './process.js';

/** KernelOptions: the shared memory, the number of possible CPUs, the pin store. */
export interface KernelOptions {
  readonly memory?: AddressSpace;
  readonly ncpus?: number;
  readonly pins?: PinStore;
  /** Where ids start (ids are never reused within a Kernel). */
  readonly firstId?: number;
  /** Hands out ids instead of the Kernel's own counter (ids shared by processes). */
  readonly allocId?: () => number;
  /** Called after a command changed a map from userspace (update, delete, freeze, …). */
  readonly onWrite?: (obj: MapObject) => void;
  /** How test runs execute: the clock, the random seed, the trace sink, the engine. */
  readonly runtime?: Omit<RuntimeOptions, 'cpu'>;
  /** The struct_ops subsystems (default: tcp_congestion_ops alone; subsystems may add theirs later with `structOps.add`). */
  readonly structOps?: StructOpsRegistry;
}

/**
 * Kernel owns what the Linux kernel owns for BPF: the object table (ids, reference counts),
 * the shared memory maps live in, and the pin namespace. `bpf(cmd, attr)` is its door.
 * Objects are freed when their last reference goes; ids are never reused.
 */
export class Kernel {
  readonly memory: AddressSpace;
  readonly ncpus: number;
  readonly pins: PinStore;
  readonly maps = new Map<number, MapObject>();
  readonly progs = new Map<number, ProgObject>();
  readonly links = new Map<number, LinkObject>();
  /** The subsystems users program with struct_ops maps (the kernel's bpf_struct_ops descs). */
  readonly structOps: StructOpsRegistry;
  readonly #default: BpfProcess;
  readonly #allocId?: () => number;
  readonly #onWrite?: (obj: MapObject) => void;
  readonly #runtimeOptions: Omit<RuntimeOptions, 'cpu'>;
  readonly #runtimes = new Map<number, HookRuntime>();
  #nextId: number;
  #wantedId = 0;
  #wantedNcpus = 0;

  constructor(options: KernelOptions = {}) {
    this.memory = options.memory ?? new AddressSpace();
    this.ncpus = options.ncpus ?? 1;
    this.pins = options.pins ?? new MemoryPinStore();
    this.#nextId = options.firstId ?? 1;
    this.#allocId = options.allocId;
    this.#onWrite = options.onWrite;
    this.#runtimeOptions = options.runtime ?? {};
    this.structOps = options.structOps ?? defaultStructOps();
    this.#default = new BpfProcess(this);
  }

  /** bpf runs a command for the kernel's own process (see BpfProcess.bpf). */
  bpf<C extends CmdName>(cmd: C, attr: AttrOf[C]): number {
    return this.#default.bpf(cmd, attr);
  }

  /** close closes an fd of the kernel's own process. */
  close(fd: number): number {
    return this.#default.close(fd);
  }

  /** process returns the kernel's own process. */
  get process(): BpfProcess {
    return this.#default;
  }

  /** spawn starts another process with an empty fd table. */
  spawn(): BpfProcess {
    return new BpfProcess(this);
  }

  /** allocId hands out the next object id (one no live object has). */
  allocId(): number {
    const wanted = this.#wantedId;
    this.#wantedId = 0;
    const free = (id: number) => !this.maps.has(id) && !this.progs.has(id) && !this.links.has(id);
    if (wanted && free(wanted)) return wanted;
    for (;;) {
      const id = this.#allocId ? this.#allocId() : this.#nextId++;
      if (free(id)) return id;
    }
  }

  /** runTimers fires the bpf_timer callbacks due now (hooks/timerQueue.ts; one queue serves every CPU's runtime). */
  runTimers(): void {
    const rt = this.#runtimes.values().next().value as HookRuntime | undefined;
    if (rt?.timers.pending) rt.runTimers();
  }

  /** runtime returns the runtime that runs programs for CPU `cpu` (made on first use). */
  runtime(cpu = 0): HookRuntime {
    let rt = this.#runtimes.get(cpu);
    if (!rt) {
      rt = new HookRuntime(this, { ncpus: this.ncpus, ...this.#runtimeOptions, cpu });
      this.#runtimes.set(cpu, rt);
    }
    return rt;
  }

  /**
   * wantNcpus asks that the next map created keep per-CPU slots for `n` CPUs when that is more
   * than this kernel's (restoring a map pinned by a replay on more workers than this machine has CPUs).
   */
  wantNcpus(n: number): void {
    this.#wantedNcpus = n;
  }

  /** mapNcpus: the CPUs the map being created has slots for (this kernel's, or more as wantNcpus asked). */
  mapNcpus(): number {
    const n = Math.max(this.ncpus, this.#wantedNcpus);
    this.#wantedNcpus = 0;
    return n;
  }

  /** wantId asks that the next object created get `id` if it is free (restoring a pin). */
  wantId(id: number): void {
    this.#wantedId = id;
  }

  /** wrote tells the kernel's owner that userspace changed a map. */
  wrote(obj: MapObject): void {
    this.#onWrite?.(obj);
  }

  /** register adds a new object to the table. */
  register(obj: AnyObject): void {
    if (obj instanceof MapObject) this.maps.set(obj.id, obj);
    else if (obj instanceof LinkObject) this.links.set(obj.id, obj);
    else this.progs.set(obj.id, obj);
  }

  hold(obj: AnyObject): void {
    obj.refs++;
  }

  /** put drops a reference; the last one frees the object and what it holds. */
  put(obj: AnyObject): void {
    if (--obj.refs > 0) return;
    if (obj instanceof MapObject) {
      this.maps.delete(obj.id);
      for (const held of obj.slots.values()) this.put(held);
      obj.slots.clear();
      obj.structOps?.free(this);
    } else if (obj instanceof LinkObject) {
      this.links.delete(obj.id);
      obj.impl.release();
    } else {
      this.progs.delete(obj.id);
      for (const m of obj.maps) this.put(m);
      for (const m of obj.bound) this.put(m);
      for (const rt of this.#runtimes.values()) rt.forget(obj);
    }
  }

  /** unlink removes a pin (rm on bpffs); the object lives on while referenced. */
  unlink(path: string): number {
    try {
      const obj = this.pins.unlink(path);
      if (obj) this.put(obj);
      return 0;
    } catch (e) {
      if (e instanceof BpfErrno) return -e.errno;
      throw e;
    }
  }

  /** objectById returns a live object. */
  objectById(kind: 'map' | 'prog' | 'link', id: number): AnyObject | undefined {
    return kind === 'map' ? this.maps.get(id) : kind === 'link' ? this.links.get(id) : this.progs.get(id);
  }
}

/** defaultStructOps: the subsystems every Kernel has: tcp_congestion_ops (registration only). */
function defaultStructOps(): StructOpsRegistry {
  const r = new StructOpsRegistry();
  r.add(tcpCongestionOps());
  return r;
}
