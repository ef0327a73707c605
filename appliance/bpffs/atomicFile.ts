import { closeSync, constants, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * writeFileAtomic replaces `path` so that a reader, or a process killed at any instant, sees
 * either the old file or the new one whole: write a temporary file beside it, fsync it,
 * rename it over `path`, fsync the directory. The temporary file is created new (O_EXCL,
 * O_NOFOLLOW: never through a link planted under its name) and owner-only (0600: the mode is
 * given at creation, so the umask can only narrow it); rename(2) replaces a link at `path`
 * itself, never what it points to.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  // `.tmp-PID-…` beside it, not `<name>.tmp-…`: a 255-byte name (NAME_MAX) must still have room for its temporary file
  const tmp = join(dirname(path), `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** sleepSync blocks the thread for `ms` milliseconds. */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** pidAlive tells whether a process exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
