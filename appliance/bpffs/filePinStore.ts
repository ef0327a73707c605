import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Errno, fail } from '../../uapi/errno.js';
import type { Kernel } from '../../kernel/kernel.js';
import { type AnyObject, LinkObject, MapObject, ProgObject } from '../../kernel/objects.js';
import { BPFFS_ROOT, type PinStore, checkBpffsPath } from '../../kernel/pins.js';
import { pidAlive, writeFileAtomic } from './atomicFile.js';
import { checkNoLinks, readNoFollow } from './noFollow.js';
import { TMP_PATTERN, checkNameLength, checkNewName } from './pinName.js';
import { StateLock } from './stateLock.js';
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

const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';
/** HIDDEN: the store's own files (every name starting with '.', which bpffs refuses to pins: pinName.ts) and temporaries. */
const HIDDEN = new RegExp(`^\\.|${TMP_PATTERN.source}`);
/** HELD_DIR: where maps that only pinned programs hold are kept (hidden from listings, as the kernel's are from bpffs). */
const HELD_DIR = '.held';

/**
 * FilePinStore is the bpffs on disk: a directory tree under the state directory where each
 * pin is a JSON file (appliance/bpffs/pinFile.ts) written crash-safely. Pinned objects outlive the
 * process; another process opening a pin re-creates the object from its file. Which process
 * holds an object live is recorded in the file (`owner`); while that owner runs, other
 * processes talk to it over its control socket instead of reading the file.
 *
 * Cross-process state beside the pins: `.next_id` (ids unique across processes),
 * `.lock` (a lock file serialising processes that change pin files), and `.held/map-<id>`:
 * the maps of pinned programs that are not pinned themselves. In the kernel such a map lives
 * while the program holds it, has an id, is listed by `bpftool map show` and can be opened by
 * id from any process; here it is a pin file of its own that no listing shows. A pinned
 * program names each of its maps by that held path; the held file is renamed to a visible pin
 * when the map is pinned, and back when that pin is removed while a pinned program still
 * holds the map, so that one file always has a map's contents. Removing the last pinned
 * program that holds a map removes its held file.
 */
export class FilePinStore implements PinStore {
  readonly dir: string;
  readonly #root: string;
  #kernel?: Kernel;
  readonly #live = new Map<string, AnyObject>();
  readonly #dirty = new Set<AnyObject>();
  #owner?: Owner;
  #lockDepth = 0;
  readonly #lock: StateLock;

  /** The state directory is made owner-only (0700, whatever the umask) when it does not exist; an existing one is left as it is. */
  constructor(dir: string, root = BPFFS_ROOT) {
    this.dir = dir;
    this.#root = root;
    this.#lock = new StateLock(dir);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      fail(Errno.ENOENT, `cannot make the state directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
  }

  /** attach gives the store the kernel it restores pins into. */
  attach(kernel: Kernel): void {
    this.#kernel = kernel;
  }

  /** own makes this process the owner recorded in the pin files it writes. */
  own(owner: Owner | undefined): void {
    this.#owner = owner;
  }

  /** #file maps a bpffs path to its file, refusing over-long names and any symbolic link on the way (noFollow.ts). */
  #file(path: string): string {
    checkNameLength(path);
    const p = checkBpffsPath(path, this.#root);
    const f = join(this.dir, p.slice(this.#root.length));
    checkNoLinks(this.dir, f, path);
    return f;
  }

  /** #newFile is #file for a pin or directory about to be made: its names are checked as bpffs would, and against bpfbox's own (pinName.ts). */
  #newFile(path: string): string {
    checkNameLength(path);
    const p = checkBpffsPath(path, this.#root);
    checkNewName(path, p.slice(this.#root.length));
    return this.#file(p);
  }

  /** read returns a pin file's contents, or throws ENOENT / EISDIR. */
  read(path: string): PinnedObject {
    const f = this.#file(path);
    return parsePinned(f, readNoFollow(f, path));
  }

  /** liveOwner returns the owner of a pin if that process is still running. */
  liveOwner(path: string): Owner | undefined {
    const o = this.read(path).owner;
    if (!o || o.pid === process.pid || !pidAlive(o.pid) || !existsSync(o.socket)) return undefined;
    return o;
  }

  pin(path: string, obj: AnyObject): void {
    // a link's pin file needs a record type of its own (its map, its subsystem): not yet
    if (obj instanceof LinkObject) fail(Errno.EOPNOTSUPP, `${path}: links are pinned only in memory for now`);
    const f = this.#newFile(path);
    if (existsSync(f)) fail(Errno.EEXIST);
    const parent = f.slice(0, f.lastIndexOf('/'));
    if (!existsSync(parent) || !statSync(parent).isDirectory()) fail(Errno.ENOENT);
    const p = checkBpffsPath(path, this.#root);
    if (obj instanceof MapObject && this.#live.get(this.#heldPath(obj)) === obj) {
      // a held map pinned where all can see it: its one file moves there
      renameSync(this.#file(this.#heldPath(obj)), f);
      this.#live.delete(this.#heldPath(obj));
    }
    if (obj instanceof ProgObject) this.#holdMaps(obj);
    this.#live.set(p, obj);
    this.#write(p, obj);
  }

  get(path: string): AnyObject {
    const p = checkBpffsPath(path, this.#root);
    const cached = this.#live.get(p);
    if (cached) return cached;
    const heldId = this.#heldIdOf(p);
    if (heldId !== undefined && !existsSync(this.#file(p))) {
      // a held map since pinned where anyone can see it
      const visible = this.#visibleMapPin(heldId) ?? fail(Errno.ENOENT, `map ${heldId}, held by a pinned program, is gone`);
      return this.get(visible);
    }
    const file = this.read(p);
    const k = this.#kernel ?? fail(Errno.EINVAL, 'pin store not attached to a kernel');
    const fd = file.kind === 'map' ? restoreMap(k, file) : restoreProg(k, file);
    const obj = k.process.entry(fd).obj;
    k.hold(obj); // the pin's reference
    k.close(fd);
    this.#live.set(p, obj);
    if (obj instanceof ProgObject && file.kind === 'prog' && file.maps.some((m) => !('pinnedAt' in m))) {
      // a pin file from before held maps (its maps inside it): from now on they are held files
      this.#write(p, obj);
    }
    return obj;
  }

  /** heldPaths lists the held maps' files as bpffs paths (what `map show` adds to the pins). */
  heldPaths(): string[] {
    const d = join(this.dir, HELD_DIR);
    if (!existsSync(d)) return [];
    return readdirSync(d)
      .filter((n) => /^map-\d+$/.test(n))
      .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
      .map((n) => `${this.#root}/${HELD_DIR}/${n}`);
  }

  /**
   * sweepHeld removes the held maps no pinned program holds any more: a program pin removed
   * with `rm` in the state directory (bpffs's way) rather than through the store.
   */
  sweepHeld(): void {
    const held = this.heldPaths();
    if (held.length === 0) return;
    this.locked(() => {
      const wanted = new Set<string>();
      for (const p of this.walk()) {
        try {
          const f = this.read(p);
          if (f.kind === 'prog') for (const m of [...f.maps, ...(f.bound ?? [])]) if ('pinnedAt' in m) wanted.add(m.pinnedAt);
        } catch {
          /* not a pin file */
        }
      }
      for (const h of held) {
        if (wanted.has(h) || this.#live.has(h)) continue;
        try {
          unlinkSync(this.#file(h));
        } catch {
          /* gone already */
        }
      }
    });
  }

  /**
   * sweepTemp removes the temporary files (`.tmp-PID-…`, `<name>.tmp-PID-…`) of writers that are
   * gone (a SIGKILL between create and rename), in every directory of the state; returns how many.
   * A live writer's are left alone. Links are not followed (lstat), nor entered.
   */
  sweepTemp(): number {
    let n = 0;
    const sweep = (d: string) => {
      for (const name of readdirSync(d)) {
        const f = join(d, name);
        const st = lstatSync(f);
        if (st.isDirectory() && name !== '.run') sweep(f);
        const m = /\.tmp-(\d+)-/.exec(name);
        if (m && st.isFile() && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
          unlinkSync(f);
          n++;
        }
      }
    };
    this.locked(() => sweep(this.dir));
    return n;
  }

  #heldPath(m: MapObject): string {
    return `${this.#root}/${HELD_DIR}/map-${m.id}`;
  }

  #heldIdOf(p: string): number | undefined {
    const m = p.slice(this.#root.length).match(/^\/\.held\/map-(\d+)$/);
    return m ? Number(m[1]) : undefined;
  }

  /** #visibleMapPin finds the pin file of the map with this id (a held map that was since pinned). */
  #visibleMapPin(id: number): string | undefined {
    for (const [p, o] of this.#live) if (o instanceof MapObject && o.id === id && this.#heldIdOf(p) === undefined) return p;
    for (const p of this.walk()) {
      try {
        const f = this.read(p);
        if (f.kind === 'map' && f.id === id) return p;
      } catch {
        /* not a pin file */
      }
    }
    return undefined;
  }

  /** #heldBy lists the pinned programs (pin paths) that hold the map with this id. */
  #heldBy(id: number, except?: string): string[] {
    const held = `${this.#root}/${HELD_DIR}/map-${id}`;
    const out: string[] = [];
    for (const p of this.walk()) {
      if (p === except) continue;
      try {
        const f = this.read(p);
        if (f.kind === 'prog' && [...f.maps, ...(f.bound ?? [])].some((m) => 'pinnedAt' in m && m.pinnedAt === held)) out.push(p);
      } catch {
        /* not a pin file */
      }
    }
    return out;
  }

  /** #holdMaps gives each map of a pinned program that has no pin of its own a held file. */
  #holdMaps(p: ProgObject): void {
    for (const m of [...p.maps, ...p.bound]) {
      if (this.pathsOf(m).length > 0 || this.#live.has(this.#heldPath(m))) continue;
      const f = this.#file(this.#heldPath(m));
      if (existsSync(f)) {
        this.#live.set(this.#heldPath(m), m);
        continue;
      }
      mkdirSync(join(this.dir, HELD_DIR), { recursive: true, mode: 0o700 });
      this.#live.set(this.#heldPath(m), m);
      this.#write(this.#heldPath(m), m);
    }
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
    const file = this.read(p);
    const obj = this.#live.get(p);
    this.#live.delete(p);
    if (file.kind === 'map' && this.#heldIdOf(p) === undefined && this.#heldBy(file.id).length > 0 && !this.#otherPin(file.id, p)) {
      // the map's last visible pin, but a pinned program still holds it: it goes back to being held
      const held = `${this.#root}/${HELD_DIR}/map-${file.id}`;
      mkdirSync(join(this.dir, HELD_DIR), { recursive: true, mode: 0o700 });
      renameSync(f, this.#file(held));
      if (obj) this.#live.set(held, obj);
      return obj;
    }
    unlinkSync(f);
    if (file.kind === 'prog') {
      // maps that only this program held go with it (the kernel frees them with the program)
      for (const ref of [...file.maps, ...(file.bound ?? [])]) {
        const id = 'pinnedAt' in ref ? this.#heldIdOf(ref.pinnedAt) : undefined;
        if (id === undefined || this.#heldBy(id).length > 0) continue;
        const held = `${this.#root}/${HELD_DIR}/map-${id}`;
        if (existsSync(this.#file(held))) unlinkSync(this.#file(held));
        this.#live.delete(held);
      }
    }
    return obj;
  }

  /** #otherPin says whether the map with this id has a visible pin besides `path`. */
  #otherPin(id: number, path: string): boolean {
    for (const p of this.walk()) {
      if (p === path) continue;
      try {
        const f = this.read(p);
        if (f.kind === 'map' && f.id === id) return true;
      } catch {
        /* not a pin file */
      }
    }
    return false;
  }

  mkdir(path: string): void {
    const f = this.#newFile(path);
    if (existsSync(f)) fail(Errno.EEXIST);
    try {
      mkdirSync(f, { mode: 0o700 });
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
      // lstat: a symbolic link is listed as a file, and reading it is the error naming it
      if (lstatSync(join(this.dir, p.slice(this.#root.length))).isDirectory()) out.push(...this.walk(p));
      else out.push(p);
    }
    return out;
  }

  pathsOf(obj: AnyObject): string[] {
    return [...this.#live]
      .filter(([p, o]) => o === obj && this.#heldIdOf(p) === undefined)
      .map(([p]) => p)
      .sort();
  }

  /**
   * pinCopy pins a copy of a map of another kernel (a finished replay's: its workers were its
   * CPUs) at `path`, under an id of this state directory; a pin already there is replaced
   * (the previous run's). Returns the copy's id.
   */
  pinCopy(path: string, m: MapObject): number {
    return this.locked(() => {
      const p = checkBpffsPath(path, this.#root);
      const f = this.#newFile(p);
      if (existsSync(f)) {
        if (statSync(f).isDirectory()) fail(Errno.EISDIR, `${path} is a directory`);
        this.unlink(p);
      }
      const parent = f.slice(0, f.lastIndexOf('/'));
      if (!existsSync(parent) || !statSync(parent).isDirectory()) fail(Errno.ENOENT, `no directory ${parentOf(p)}`);
      const id = this.allocId();
      writeFileAtomic(f, JSON.stringify({ ...snapshotMap(m), id }));
      return id;
    });
  }

  /** mkdirs makes a bpffs directory and its parents (`mkdir -p`). */
  mkdirs(path: string): void {
    const p = checkBpffsPath(path, this.#root);
    checkNewName(path, p.slice(this.#root.length));
    const parts = p.slice(this.#root.length).split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const d = `${this.#root}/${parts.slice(0, i).join('/')}`;
      const f = this.#file(d);
      if (existsSync(f)) {
        if (!statSync(f).isDirectory()) fail(Errno.ENOTDIR, `${d} is not a directory`);
      } else mkdirSync(f, { mode: 0o700 });
    }
  }

  /** touched marks an object changed; flush writes it. */
  touched(obj: AnyObject): void {
    for (const [, o] of this.#live) if (o === obj) this.#dirty.add(o);
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
    if (obj instanceof LinkObject) return;
    if (obj instanceof ProgObject) this.#holdMaps(obj);
    const snap = obj instanceof MapObject ? snapshotMap(obj) : snapshotProg(obj, (m) => this.#heldPath(m));
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

  /** acquire takes the state directory's lock file (stateLock.ts: a holder not shown alive is broken). */
  acquire(): void {
    if (this.#lockDepth++ > 0) return;
    try {
      this.#lock.acquire();
    } catch (e) {
      this.#lockDepth--;
      throw e;
    }
  }

  /** releaseLock gives back what acquire took. */
  releaseLock(): void {
    if (--this.#lockDepth === 0) this.#lock.release();
  }
}
