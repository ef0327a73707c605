import { AddressSpace } from '../vm/memory.js';
import { ATTR_FIELDS, type AttrOf } from './attr.js';
import { Cmd, type CmdName } from '../uapi/cmd.js';
import { batchCommands } from './commands/mapBatch.js';
import { elemCommands } from './commands/mapElem.js';
import { objCommands } from './commands/obj.js';
import { progCommands } from './commands/progLoad.js';
import { testRunCommands } from './commands/progTestRun.js';
import { HookRuntime, type RuntimeOptions } from '../hooks/runtime.js';
import { BpfErrno, Errno, fail } from '../uapi/errno.js';
import { MapFlag } from '../uapi/mapType.js';
import { type AnyObject, MapObject, ProgObject } from './objects.js';
import { MemoryPinStore, type PinStore } from './pins.js';

/** FdEntry: what an fd refers to and which syscall-side access it grants. */
export interface FdEntry {
  readonly obj: AnyObject;
  readonly read: boolean;
  readonly write: boolean;
}

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
}

/** Handler runs one command for a process. */
export type Handler<C extends CmdName> = (k: Kernel, p: BpfProcess, attr: AttrOf[C]) => number;

const HANDLERS: { [C in CmdName]: Handler<C> } = {
  ...elemCommands,
  ...batchCommands,
  ...progCommands,
  ...objCommands,
  ...testRunCommands,
};

/**
 * BpfProcess is one process's view of the kernel: its fd table. Fds start at 3 and the
 * lowest free one is taken, as open(2) does; `exit` closes them all.
 */
export class BpfProcess {
  readonly kernel: Kernel;
  readonly fds = new Map<number, FdEntry>();

  constructor(kernel: Kernel) {
    this.kernel = kernel;
  }

  /**
   * bpf is the syscall: the command's result (an fd, 0, or a count) or a negative errno.
   * Unknown commands and attribute fields the command does not read are EINVAL.
   */
  bpf<C extends CmdName>(cmd: C, attr: AttrOf[C]): number {
    const handler = HANDLERS[cmd] as Handler<C> | undefined;
    if (!handler || !(cmd in Cmd)) return -Errno.EINVAL;
    const allowed = ATTR_FIELDS[cmd] as readonly string[];
    for (const [k, v] of Object.entries(attr)) {
      if (!allowed.includes(k) && v !== undefined && v !== 0 && v !== null) return -Errno.EINVAL;
    }
    try {
      return handler(this.kernel, this, attr);
    } catch (e) {
      if (e instanceof BpfErrno) return -e.errno;
      throw e;
    }
  }

  /** install gives `obj` a new fd in this process (taking a reference). */
  install(obj: AnyObject, flags = 0): number {
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    this.fds.set(fd, { obj, read: !(flags & MapFlag.BPF_F_WRONLY), write: !(flags & MapFlag.BPF_F_RDONLY) });
    this.kernel.hold(obj);
    return fd;
  }

  /** entry returns the fd's entry, or throws EBADF. */
  entry(fd: number): FdEntry {
    return this.fds.get(fd) ?? fail(Errno.EBADF, `fd ${fd} is not open`);
  }

  /** mapOf returns the map behind `fd`: EBADF if none, EINVAL if it is a program. */
  mapOf(fd: number): { map: MapObject; read: boolean; write: boolean } {
    const e = this.entry(fd);
    if (!(e.obj instanceof MapObject)) fail(Errno.EINVAL, `fd ${fd} is not a map`);
    const f = e.obj.spec.flags ?? 0;
    return { map: e.obj, read: e.read && !(f & MapFlag.BPF_F_WRONLY), write: e.write && !e.obj.frozen && !(f & MapFlag.BPF_F_RDONLY) };
  }

  /** progOf returns the program behind `fd`: EBADF if none, EINVAL if it is a map. */
  progOf(fd: number): ProgObject {
    const e = this.entry(fd);
    if (!(e.obj instanceof ProgObject)) fail(Errno.EINVAL, `fd ${fd} is not a program`);
    return e.obj;
  }

  /** close is close(2): drops the fd's reference. */
  close(fd: number): number {
    const e = this.fds.get(fd);
    if (!e) return -Errno.EBADF;
    this.fds.delete(fd);
    this.kernel.put(e.obj);
    return 0;
  }

  /** exit closes every fd, as the end of a process does. */
  exit(): void {
    for (const fd of [...this.fds.keys()]) this.close(fd);
  }
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
  readonly #default: BpfProcess;
  readonly #allocId?: () => number;
  readonly #onWrite?: (obj: MapObject) => void;
  readonly #runtimeOptions: Omit<RuntimeOptions, 'cpu'>;
  readonly #runtimes = new Map<number, HookRuntime>();
  #nextId: number;
  #wantedId = 0;

  constructor(options: KernelOptions = {}) {
    this.memory = options.memory ?? new AddressSpace();
    this.ncpus = options.ncpus ?? 1;
    this.pins = options.pins ?? new MemoryPinStore();
    this.#nextId = options.firstId ?? 1;
    this.#allocId = options.allocId;
    this.#onWrite = options.onWrite;
    this.#runtimeOptions = options.runtime ?? {};
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
    if (wanted && !this.maps.has(wanted) && !this.progs.has(wanted)) return wanted;
    for (;;) {
      const id = this.#allocId ? this.#allocId() : this.#nextId++;
      if (!this.maps.has(id) && !this.progs.has(id)) return id;
    }
  }

  /** runtime returns the runtime that runs programs for CPU `cpu` (made on first use). */
  runtime(cpu = 0): HookRuntime {
    let rt = this.#runtimes.get(cpu);
    if (!rt) {
      rt = new HookRuntime(this, { ...this.#runtimeOptions, cpu });
      this.#runtimes.set(cpu, rt);
    }
    return rt;
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
    } else {
      this.progs.delete(obj.id);
      for (const m of obj.maps) this.put(m);
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
  objectById(kind: 'map' | 'prog', id: number): AnyObject | undefined {
    return kind === 'map' ? this.maps.get(id) : this.progs.get(id);
  }
}
