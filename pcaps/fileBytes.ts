import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * FileBytes reads a file forward through one buffer: `need(n)` makes n bytes at the cursor
 * available in `buf` from `at`, refilling (and moving the unread tail to the front) as
 * needed, so memory stays constant whatever the file's size.
 *
 * A caller that hands record bytes to other threads (the replay reads packets straight into
 * the shared memory) gives its own buffers with `setBuffer` and turns `compact` off: then the
 * bytes already read stay where they are, and `need` reports `full` instead of moving them;
 * the caller moves on to its next buffer with `setBuffer`, which carries the unread tail over.
 */
export class FileBytes {
  readonly path: string;
  readonly size: number;
  buf: Buffer;
  /** The same bytes as a plain Uint8Array (its subarrays are cheaper to make than a Buffer's). */
  u8: Uint8Array;
  /** Position of the cursor in `buf`. */
  at = 0;
  /** With `compact` off: the last `need` failed because the buffer is full, not because the file ended. */
  full = false;
  compact = true;
  /** Bytes of `buf` that hold file data. */
  #filled = 0;
  /** File offset of buf[0]. */
  #base = 0;
  #fd: number;

  constructor(path: string, bufferSize = 1 << 20) {
    this.path = path;
    this.#fd = openSync(path, 'r');
    const st = fstatSync(this.#fd);
    if (st.isDirectory()) {
      // open(2) of a directory for reading succeeds; the read would fail with EISDIR, so fail here, as the read would
      closeSync(this.#fd);
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${path}'`), { code: 'EISDIR', path, syscall: 'open' });
    }
    this.size = st.size;
    this.buf = Buffer.allocUnsafe(bufferSize);
    this.u8 = new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  /** offset is the file offset of the cursor. */
  get offset(): number {
    return this.#base + this.at;
  }

  /** setBuffer moves the unread bytes to the start of `next` and reads on into it. */
  setBuffer(next: Uint8Array): void {
    const unread = this.#filled - this.at;
    if (unread > next.length) throw new RangeError(`${this.path}: ${unread} unread bytes do not fit a ${next.length}-byte buffer`);
    next.set(this.u8.subarray(this.at, this.#filled), 0);
    this.u8 = next;
    this.buf = Buffer.from(next.buffer, next.byteOffset, next.length);
    this.#base += this.at;
    this.#filled = unread;
    this.at = 0;
    this.full = false;
  }

  /** need returns whether n bytes are available at the cursor (false: the file ends first, or `full`). */
  need(n: number): boolean {
    if (this.#filled - this.at >= n) return true;
    if (!this.compact) {
      if (this.at + n > this.buf.length) {
        this.full = true;
        return false;
      }
    } else if (n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
      this.buf.copy(bigger, 0, this.at, this.#filled);
      this.#rebase(bigger);
    } else {
      this.buf.copy(this.buf, 0, this.at, this.#filled);
      this.#rebase(this.buf);
    }
    // without compaction, read in chunks so that little is left unread when the buffer changes
    const chunk = this.compact ? this.buf.length : Math.max(n, 256 << 10);
    while (this.#filled - this.at < n) {
      const got = readSync(this.#fd, this.buf, this.#filled, Math.min(chunk, this.buf.length - this.#filled), this.#base + this.#filled);
      if (got === 0) return false;
      this.#filled += got;
    }
    return true;
  }

  #rebase(buf: Buffer): void {
    this.buf = buf;
    this.u8 = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    this.#filled -= this.at;
    this.#base += this.at;
    this.at = 0;
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
