import { closeSync, fstatSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { UserError } from '../uapi/userError.js';

/** STDIO: the name that means standard input (a capture) or standard output (--out), as tcpdump's `-r -` and `-w -`. */
export const STDIO = '-';

/** InputFd: an open capture: its fd, whether it can be read at an offset (a regular file) or only in order (a pipe, FIFO, socket, terminal), and its size if known. */
export interface InputFd {
  readonly fd: number;
  /** A pipe, FIFO, socket or character device: read in order with no position, its size unknown. */
  readonly stream: boolean;
  /** The size of a regular file; 0 for a stream (unknown until its end). */
  readonly size: number;
  /** Whether closing the capture closes the fd (not standard input's). */
  readonly owned: boolean;
}

/**
 * openInput opens a capture for reading: `-` (or /dev/stdin) is standard input, anything else
 * a path. A FIFO opens as the kernel opens one (waiting for a writer); it and any other
 * file that cannot seek (a pipe, a socket) is a stream.
 */
export function openInput(path: string): InputFd {
  const stdin = path === STDIO || path === '/dev/stdin';
  if (stdin && isatty(0))
    throw new UserError(`${path}: standard input is a terminal, not a capture (pipe one in: tcpdump -w - | bpfbox replay -)`);
  const fd = stdin ? 0 : openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    // open(2) of a directory for reading succeeds; the read would fail with EISDIR, so fail here as the read would (the caller names the file's role)
    if (st.isDirectory())
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${path}'`), { code: 'EISDIR', path, syscall: 'open' });
    const stream = stdin || !st.isFile();
    return { fd, stream, size: stream ? 0 : st.size, owned: !stdin };
  } catch (e) {
    if (!stdin) closeSync(fd);
    throw e;
  }
}

/** isStreamPath: whether a capture name is read as a stream (standard input, a FIFO, a socket), without opening it. */
export function isStreamPath(path: string): boolean {
  if (path === STDIO || path === '/dev/stdin') return true;
  try {
    return !statSync(path).isFile();
  } catch {
    return false;
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** pause: a short blocking wait, for an fd that is non-blocking (Node may have set O_NONBLOCK on a pipe it shares). */
const pause = () => Atomics.wait(sleeper, 0, 0, 1);

/**
 * readSome reads up to `len` bytes into `buf` at `off`: at `position` of a regular file, or
 * (position null) the next bytes of a stream, waiting while a non-blocking one has none yet.
 * It returns 0 only at the end of the file or stream.
 */
export function readSome(fd: number, buf: Uint8Array, off: number, len: number, position: number | null): number {
  for (;;) {
    try {
      return readSync(fd, buf, off, len, position);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      pause();
    }
  }
}

/** writeAll writes `len` bytes of `buf` from `off`, waiting while a non-blocking pipe is full. */
export function writeAll(fd: number, buf: Uint8Array, off: number, len: number): void {
  let o = 0;
  while (o < len) {
    try {
      o += writeSync(fd, buf, off + o, len - o);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      pause();
    }
  }
}
