import { closeSync, openSync } from 'node:fs';
import { STDIO, writeAll } from '../../../pcaps/streamIo.js';
import { formatValue, toJson } from '../../../maps/typeDesc.js';
import { UserError } from '../../../uapi/userError.js';
import type { EventMap, EventRecord } from '../events.js';
import type { EventTyper } from '../eventTypes.js';

/** Bytes of JSON lines gathered before a write. */
const FLUSH_BYTES = 1 << 16;

/**
 * EventsFile writes events as JSON lines (`--events FILE.jsonl`, `-` for standard output):
 *
 *   {"map":"events","map_id":3,"cpu":0,"kind":"ringbuf","data":"4a000000…","value":{"len":74,…}}
 *
 * `data` is the record's bytes in hex; `value` the record read as the type the EventTyper
 * finds (rendered as `map dump` renders BTF-typed values), left out when it finds none.
 */
export class EventsFile {
  readonly #fd: number;
  readonly #typer: EventTyper;
  #buf = '';
  /** Events written. */
  written = 0;

  constructor(path: string, typer: EventTyper) {
    this.#typer = typer;
    try {
      this.#fd = path === STDIO ? 1 : openSync(path, 'w');
    } catch (e) {
      throw new UserError(`--events ${path}: ${(e as Error).message}`, { field: '--events', cause: e });
    }
  }

  /** write adds a worker's records, in the order it read them. */
  write(records: readonly EventRecord[], maps: readonly EventMap[]): void {
    for (const r of records) {
      const m = maps[r.m];
      const t = this.#typer(m.name, r.data.length);
      const value = t ? `,"value":${toJson(formatValue(t, r.data))}` : '';
      this.#buf += `{"map":${JSON.stringify(m.name)},"map_id":${m.id},"cpu":${r.cpu},"kind":"${m.kind}","data":"${Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).toString('hex')}"${value}}\n`;
      this.written++;
      if (this.#buf.length >= FLUSH_BYTES) this.#flush();
    }
  }

  #flush(): void {
    if (!this.#buf) return;
    const b = Buffer.from(this.#buf);
    writeAll(this.#fd, b, 0, b.length);
    this.#buf = '';
  }

  /** close writes what is left and closes the file (not standard output). */
  close(): void {
    this.#flush();
    if (this.#fd !== 1) closeSync(this.#fd);
  }
}
