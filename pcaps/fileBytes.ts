import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * FileBytes reads a file forward through one reused buffer: `need(n)` makes n bytes at the
 * cursor available in `buf` from `at`, refilling (and moving the unread tail to the front)
 * as needed, so memory stays constant whatever the file's size.
 */
export class FileBytes {
  readonly path: string;
  readonly size: number;
  buf: Buffer;
  /** Position of the cursor in `buf`. */
  at = 0;
  /** Bytes of `buf` that hold file data. */
  #filled = 0;
  /** File offset of buf[0]. */
  #base = 0;
  #fd: number;

  constructor(path: string, bufferSize = 1 << 20) {
    this.path = path;
    this.#fd = openSync(path, 'r');
    this.size = fstatSync(this.#fd).size;
    this.buf = Buffer.allocUnsafe(bufferSize);
  }

  /** offset is the file offset of the cursor. */
  get offset(): number {
    return this.#base + this.at;
  }

  /** need returns whether n bytes are available at the cursor (false: the file ends first). */
  need(n: number): boolean {
    if (this.#filled - this.at >= n) return true;
    if (n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
      this.buf.copy(bigger, 0, this.at, this.#filled);
      this.buf = bigger;
    } else {
      this.buf.copy(this.buf, 0, this.at, this.#filled);
    }
    this.#filled -= this.at;
    this.#base += this.at;
    this.at = 0;
    while (this.#filled < n) {
      const got = readSync(this.#fd, this.buf, this.#filled, this.buf.length - this.#filled, this.#base + this.#filled);
      if (got === 0) return false;
      this.#filled += got;
    }
    return true;
  }

  /** remaining: bytes from the cursor to the end of the file. */
  get remaining(): number {
    return this.size - this.offset;
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}
