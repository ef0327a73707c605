import { Errno, fail } from '../uapi/errno.js';
import type { AnyObject } from './objects.js';

/** BPFFS_ROOT: where the kernel's bpf filesystem is mounted by default. */
export const BPFFS_ROOT = '/sys/fs/bpf';

/**
 * PinStore is the bpffs namespace: a tree of directories and pinned objects. The Kernel
 * holds a reference for every pin. `MemoryPinStore` lives as long as the process;
 * `appliance/bpffs/filePinStore.ts` keeps pins on disk so that they outlive it.
 */
export interface PinStore {
  /** pin adds `obj` at `path`: EEXIST if taken, ENOENT if the directory is missing. */
  pin(path: string, obj: AnyObject): void;
  /** get returns the object at `path`: ENOENT if none, EISDIR for a directory. */
  get(path: string): AnyObject;
  /** unlink removes a pin (the object lives on while referenced) or an empty directory. */
  unlink(path: string): AnyObject | undefined;
  mkdir(path: string): void;
  /** list returns the names in a directory. */
  list(dir: string): string[];
  /** pathsOf returns where an object is pinned (bpftool's `pinned`). */
  pathsOf(obj: AnyObject): string[];
}

/** checkBpffsPath normalises a path and refuses one outside the bpffs (EPERM, as the kernel). */
export function checkBpffsPath(path: string, root = BPFFS_ROOT): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..') || !path.startsWith('/')) fail(Errno.EINVAL, `bad path ${path}`);
  const norm = '/' + parts.join('/');
  if (norm !== root && !norm.startsWith(root + '/')) fail(Errno.EPERM, `${path} is not on a bpf filesystem`);
  return norm;
}

const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';

/** MemoryPinStore keeps pins in this process. */
export class MemoryPinStore implements PinStore {
  readonly #root: string;
  readonly #dirs = new Set<string>();
  readonly #pins = new Map<string, AnyObject>();

  constructor(root = BPFFS_ROOT) {
    this.#root = root;
    this.#dirs.add(root);
  }

  pin(path: string, obj: AnyObject): void {
    const p = checkBpffsPath(path, this.#root);
    if (this.#pins.has(p) || this.#dirs.has(p)) fail(Errno.EEXIST);
    if (!this.#dirs.has(parentOf(p))) fail(Errno.ENOENT, `no directory ${parentOf(p)}`);
    this.#pins.set(p, obj);
  }

  get(path: string): AnyObject {
    const p = checkBpffsPath(path, this.#root);
    if (this.#dirs.has(p)) fail(Errno.EISDIR);
    return this.#pins.get(p) ?? fail(Errno.ENOENT);
  }

  unlink(path: string): AnyObject | undefined {
    const p = checkBpffsPath(path, this.#root);
    if (this.#dirs.has(p)) {
      if (this.list(p).length > 0) fail(Errno.ENOTEMPTY);
      if (p === this.#root) fail(Errno.EBUSY);
      this.#dirs.delete(p);
      return undefined;
    }
    const obj = this.#pins.get(p) ?? fail(Errno.ENOENT);
    this.#pins.delete(p);
    return obj;
  }

  mkdir(path: string): void {
    const p = checkBpffsPath(path, this.#root);
    if (this.#dirs.has(p) || this.#pins.has(p)) fail(Errno.EEXIST);
    if (!this.#dirs.has(parentOf(p))) fail(Errno.ENOENT);
    this.#dirs.add(p);
  }

  list(dir: string): string[] {
    const d = checkBpffsPath(dir, this.#root);
    if (!this.#dirs.has(d)) fail(this.#pins.has(d) ? Errno.ENOTDIR : Errno.ENOENT);
    const names = [...this.#dirs, ...this.#pins.keys()].filter((p) => parentOf(p) === d && p !== d);
    return names.map((p) => p.slice(d.length + 1)).sort();
  }

  pathsOf(obj: AnyObject): string[] {
    return [...this.#pins]
      .filter(([, o]) => o === obj)
      .map(([p]) => p)
      .sort();
  }
}
