import { closeSync, fsyncSync, openSync } from 'node:fs';
import { UserError } from '../uapi/userError.js';
import { STDIO, writeAll } from './streamIo.js';

/**
 * FileOut appends to a file through a 1 MiB buffer. `-` is standard output (tcpdump's `-w -`):
 * written in order, neither synced nor closed (a pipe cannot fsync: EINVAL); a reader that
 * closes the pipe early (`| head`) ends the writing with one line, not a stack.
 */
export class FileOut {
  readonly path: string;
  #fd: number;
  readonly #stdout: boolean;
  #buf = Buffer.allocUnsafe(1 << 20);
  #used = 0;
  /** Bytes written so far (buffered or not). */
  written = 0;

  constructor(path: string) {
    this.path = path;
    this.#stdout = path === STDIO;
    this.#fd = this.#stdout ? 1 : openSync(path, 'w');
  }

  /** reserve returns the buffer and the offset at which `n` bytes may be written, then `commit(n)`. */
  reserve(n: number): { buf: Buffer; at: number } {
    if (this.#used + n > this.#buf.length) {
      this.flush();
      if (n > this.#buf.length) this.#buf = Buffer.allocUnsafe(n);
    }
    return { buf: this.#buf, at: this.#used };
  }

  commit(n: number): void {
    this.#used += n;
    this.written += n;
  }

  flush(): void {
    try {
      writeAll(this.#fd, this.#buf, 0, this.#used);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE')
        throw new UserError(`${this.#stdout ? 'standard output' : this.path}: the reader closed the pipe`, { file: this.path, cause: e });
      throw e;
    }
    this.#used = 0;
  }

  close(): void {
    if (this.#fd < 0) return;
    this.flush();
    if (!this.#stdout) {
      try {
        fsyncSync(this.#fd);
      } catch (e) {
        // a FIFO or a pipe given by name: nothing to sync
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      }
      closeSync(this.#fd);
    }
    this.#fd = -1;
  }
}
