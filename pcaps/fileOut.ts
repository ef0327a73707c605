import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';

/** FileOut appends to a file through a 1 MiB buffer. */
export class FileOut {
  readonly path: string;
  #fd: number;
  #buf = Buffer.allocUnsafe(1 << 20);
  #used = 0;
  /** Bytes written so far (buffered or not). */
  written = 0;

  constructor(path: string) {
    this.path = path;
    this.#fd = openSync(path, 'w');
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
    let o = 0;
    while (o < this.#used) o += writeSync(this.#fd, this.#buf, o, this.#used - o);
    this.#used = 0;
  }

  close(): void {
    if (this.#fd < 0) return;
    this.flush();
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    this.#fd = -1;
  }
}
