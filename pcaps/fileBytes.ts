import { closeSync } from 'node:fs';
import { openInput, readSome } from './streamIo.js';

/**
 * FileBytes reads a file forward through one buffer: `need(n)` makes n bytes at the cursor
 * available in `buf` from `at`, refilling (and moving the unread tail to the front) as
 * needed, so memory stays constant whatever the file's size.
 *
 * A caller that hands record bytes to other threads (the replay reads packets straight into
 * the shared memory) gives its own buffers with `setBuffer` and turns `compact` off: then the
 * bytes already read stay where they are, and `need` reports `full` instead of moving them;
 * the caller moves on to its next buffer with `setBuffer`, which carries the unread tail over.
 *
 * `-` is standard input. Standard input, a FIFO or a pipe is a `stream`: read in order with
 * no position (the kernel refuses pread on a pipe: ESPIPE) and of unknown `size` (0); it is
 * read once, so whatever has been read stays in `buf` until the cursor passes it.
 */
export class FileBytes {
  readonly path: string;
  /** The file's size; 0 for a stream, whose size is known only at its end. */
  readonly size: number;
  /** Read in order with no position: standard input, a FIFO, a pipe, a socket. */
  readonly stream: boolean;
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
  readonly #owned: boolean;
  /** The stream ended (a read returned 0): reading on would wait for nothing. */
  #ended = false;

  constructor(path: string, bufferSize = 1 << 20) {
    this.path = path;
    const input = openInput(path);
    this.#fd = input.fd;
    this.#owned = input.owned;
    this.stream = input.stream;
    this.size = input.size;
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
      if (this.#ended) return false;
      const len = Math.min(chunk, this.buf.length - this.#filled);
      const got = readSome(this.#fd, this.buf, this.#filled, len, this.stream ? null : this.#base + this.#filled);
      if (got === 0) {
        this.#ended = this.stream;
        return false;
      }
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

  /** buffered: bytes read but not yet passed by the cursor (after a failed `need`: all that is left of the file). */
  get buffered(): number {
    return this.#filled - this.at;
  }

  close(): void {
    if (this.#fd >= 0 && this.#owned) closeSync(this.#fd);
    this.#fd = -1;
  }
}
