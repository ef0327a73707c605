import { ATTR_FIELDS, type AttrOf } from './attr.js';
import { Cmd, type CmdName } from '../uapi/cmd.js';
import { batchCommands } from './commands/mapBatch.js';
import { elemCommands } from './commands/mapElem.js';
import { linkCommands } from './commands/link.js';
import { objCommands } from './commands/obj.js';
import { progCommands } from './commands/progLoad.js';
import { testRunCommands } from './commands/progTestRun.js';
import { BpfErrno, Errno, fail } from '../uapi/errno.js';
import { MapFlag } from '../uapi/mapType.js';
import type { Kernel } from './kernel.js';
import { type AnyObject, MapObject, ProgObject } from './objects.js';

/** FdEntry: what an fd refers to and which syscall-side access it grants. */
export interface FdEntry {
  readonly obj: AnyObject;
  readonly read: boolean;
  readonly write: boolean;
}

/** Handler runs one command for a process. */
export type Handler<C extends CmdName> = (k: Kernel, p: BpfProcess, attr: AttrOf[C]) => number;

const HANDLERS: { [C in CmdName]: Handler<C> } = {
  ...elemCommands,
  ...batchCommands,
  ...progCommands,
  ...objCommands,
  ...testRunCommands,
  ...linkCommands,
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
      // bpf_timer callbacks due by now run first, as the kernel's softirq would have run them
      this.kernel.runTimers();
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
