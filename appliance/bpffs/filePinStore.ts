import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BpfErrno, Errno, fail } from '../../uapi/errno.js';
import type { Kernel } from '../../kernel/kernel.js';
import { type AnyObject, MapObject, ProgObject } from '../../kernel/objects.js';
import { BPFFS_ROOT, type PinStore, checkBpffsPath } from '../../kernel/pins.js';
import { pidAlive, sleepSync, writeFileAtomic } from './atomicFile.js';
import { type Owner, type PinnedObject, parsePinned, restoreMap, restoreProg, snapshotMap, snapshotProg } from './pinFile.js';

/**
 * stateDir is where `/sys/fs/bpf` lives for bpfbox: `--bpffs DIR`, else `$BPFBOX_BPFFS`, else
 * `$XDG_STATE_HOME/bpfbox/bpffs` (default `~/.local/state/bpfbox/bpffs`).
 */
export function stateDir(option?: string): string {
  if (option) return option;
  if (process.env.BPFBOX_BPFFS) return process.env.BPFBOX_BPFFS;
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'bpfbox', 'bpffs');
}

const HIDDEN = /^\.|\.tmp-\d+-/;

/**
 * FilePinStore is the bpffs on disk: a directory tree under the state directory where each
 * pin is a JSON file (appliance/bpffs/pinFile.ts) written crash-safely. Pinned objects outlive the
 * process; another process opening a pin re-creates the object from its file. Which process
 * holds an object live is recorded in the file (`owner`); while that owner runs, other
 * processes talk to it over its control socket instead of reading the file.
 *
 * Cross-process state beside the pins: `.next_id` (ids unique across processes) and
 * `.lock` (a lock file serialising processes that change pin files).
 */
export class FilePinStore implements PinStore {
  readonly dir: string;
  readonly #root: string;
  #kernel?: Kernel;
  readonly #live = new Map<string, AnyObject>();
  readonly #dirty = new Set<AnyObject>();
  #owner?: Owner;
  #lockDepth = 0;

  constructor(dir: string, root = BPFFS_ROOT) {
    this.dir = dir;
    this.#root = root;
    mkdirSync(dir, { recursive: true });
  }

  /** attach gives the store the kernel it restores pins into. */
  attach(kernel: Kernel): void {
    this.#kernel = kernel;
  }

  /** own makes this process the owner recorded in the pin files it writes. */
  own(owner: Owner | undefined): void {
    this.#owner = owner;
  }

  #file(path: string): string {
    const p = checkBpffsPath(path, this.#root);
    return join(this.dir, p.slice(this.#root.length));
  }

  /** read returns a pin file's contents, or throws ENOENT / EISDIR. */
  read(path: string): PinnedObject {
    const f = this.#file(path);
    let text: string;
    try {
      if (statSync(f).isDirectory()) fail(Errno.EISDIR);
      text = readFileSync(f, 'utf8');
    } catch (e) {
      if (e instanceof BpfErrno) throw e;
      fail(Errno.ENOENT, `no pin at ${path}`);
    }
    return parsePinned(f, text);
  }

  /** liveOwner returns the owner of a pin if that process is still running. */
  liveOwner(path: string): Owner | undefined {
    const o = this.read(path).owner;
    if (!o || o.pid === process.pid || !pidAlive(o.pid) || !existsSync(o.socket)) return undefined;
    return o;
  }

  pin(path: string, obj: AnyObject): void {
    const f = this.#file(path);
    if (existsSync(f)) fail(Errno.EEXIST);
    const parent = f.slice(0, f.lastIndexOf('/'));
    if (!existsSync(parent) || !statSync(parent).isDirectory()) fail(Errno.ENOENT);
    this.#live.set(checkBpffsPath(path, this.#root), obj);
    this.#write(path, obj);
  }

  get(path: string): AnyObject {
    const p = checkBpffsPath(path, this.#root);
    const cached = this.#live.get(p);
    if (cached) return cached;
    const file = this.read(p);
    const k = this.#kernel ?? fail(Errno.EINVAL, 'pin store not attached to a kernel');
    const fd = file.kind === 'map' ? restoreMap(k, file) : restoreProg(k, file);
    const obj = k.process.entry(fd).obj;
    k.hold(obj); // the pin's reference
    k.close(fd);
    this.#live.set(p, obj);
    return obj;
  }

  unlink(path: string): AnyObject | undefined {
    const p = checkBpffsPath(path, this.#root);
    const f = this.#file(p);
    if (!existsSync(f)) fail(Errno.ENOENT);
    if (statSync(f).isDirectory()) {
      if (p === this.#root) fail(Errno.EBUSY);
      if (this.list(p).length > 0) fail(Errno.ENOTEMPTY);
      rmdirSync(f);
      return undefined;
    }
    unlinkSync(f);
    const obj = this.#live.get(p);
    this.#live.delete(p);
    return obj;
  }

  mkdir(path: string): void {
    const f = this.#file(path);
    if (existsSync(f)) fail(Errno.EEXIST);
    try {
      mkdirSync(f);
    } catch {
      fail(Errno.ENOENT);
    }
  }

  list(dir: string): string[] {
    const f = this.#file(dir);
    if (!existsSync(f)) fail(Errno.ENOENT);
    if (!statSync(f).isDirectory()) fail(Errno.ENOTDIR);
    return readdirSync(f)
      .filter((n) => !HIDDEN.test(n))
      .sort();
  }

  /** walk lists every pin path below `dir`. */
  walk(dir = this.#root): string[] {
    const out: string[] = [];
    for (const name of this.list(dir)) {
      const p = `${dir}/${name}`;
      if (statSync(this.#file(p)).isDirectory()) out.push(...this.walk(p));
      else out.push(p);
    }
    return out;
  }

  pathsOf(obj: AnyObject): string[] {
    return [...this.#live]
      .filter(([, o]) => o === obj)
      .map(([p]) => p)
      .sort();
  }

  /** touched marks an object changed; flush writes it. */
  touched(obj: AnyObject): void {
    for (const [, o] of this.#live)
      if (o === obj || (o instanceof ProgObject && obj instanceof MapObject && o.maps.includes(obj))) this.#dirty.add(o);
  }

  /** flush writes the pin files of changed objects (all live ones with `all`). */
  flush(all = false): void {
    for (const [p, obj] of this.#live) if (all || this.#dirty.has(obj)) this.#write(p, obj);
    this.#dirty.clear();
  }

  /** release rewrites this process's pins without an owner (at exit). */
  release(): void {
    this.#owner = undefined;
    this.flush(true);
  }

  #write(path: string, obj: AnyObject): void {
    const snap = obj instanceof MapObject ? snapshotMap(obj) : snapshotProg(obj, (m) => this.pathsOf(m)[0]);
    if (this.#owner) snap.owner = this.#owner;
    writeFileAtomic(this.#file(path), JSON.stringify(snap));
  }

  /** allocId hands out ids unique across every process using this state directory. */
  allocId = (): number =>
    this.locked(() => {
      const f = join(this.dir, '.next_id');
      const id = existsSync(f) ? Number(readFileSync(f, 'utf8')) || 1 : 1;
      writeFileAtomic(f, String(id + 1));
      return id;
    });

  /** locked runs `fn` holding the state directory's lock file (re-entrant). */
  locked<T>(fn: () => T): T {
    this.acquire();
    try {
      return fn();
    } finally {
      this.releaseLock();
    }
  }

  /** acquire takes the state directory's lock file (a dead holder's lock is broken). */
  acquire(): void {
    if (this.#lockDepth++ > 0) return;
    const lock = join(this.dir, '.lock');
    for (let tries = 0; ; tries++) {
      try {
        const fd = openSync(lock, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return;
      } catch {
        let holder = 0;
        try {
          holder = Number(readFileSync(lock, 'utf8'));
        } catch {
          continue;
        }
        if (holder && holder !== process.pid && !pidAlive(holder)) {
          try {
            unlinkSync(lock);
          } catch {
            /* someone else broke it */
          }
          continue;
        }
        if (tries > 2000) {
          this.#lockDepth--;
          fail(Errno.EBUSY, `${lock} is held by process ${holder}`);
        }
        sleepSync(5);
      }
    }
  }

  /** releaseLock gives back what acquire took. */
  releaseLock(): void {
    if (--this.#lockDepth === 0) unlinkSync(join(this.dir, '.lock'));
  }
}
