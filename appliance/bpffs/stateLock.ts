import { linkSync, lstatSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../uapi/userError.js';
import { pidAlive, sleepSync } from './atomicFile.js';

/** LOCK_WAIT_MS: how long a process waits for a live holder before it gives up (EBUSY). */
export const LOCK_WAIT_MS = 10_000;

/** Holder: what a lock file says: the holder's pid and its start time (field 22 of /proc/PID/stat, clock ticks since boot). */
export interface Holder {
  readonly pid: number;
  readonly start: string;
}

/** procStartTime reads a process's start time from /proc/PID/stat (after the `(comm)`, which may hold spaces), or undefined. */
export function procStartTime(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** parseHolder reads `PID START` from a lock file's text; an empty or older (pid only) lock has no holder that can be shown. */
export function parseHolder(text: string): Holder | undefined {
  const m = /^(\d+) (\d+)\n?$/.exec(text);
  return m ? { pid: Number(m[1]), start: m[2] } : undefined;
}

/**
 * holderAlive: the holder is shown alive only when its pid runs and started when the lock says:
 * a recycled pid (after a reboot or wrap-around) is another process, and an empty lock (a kill
 * between create and write, by an older bpfbox) or a pid-only one shows nobody.
 */
export function holderAlive(h: Holder | undefined): boolean {
  return h !== undefined && pidAlive(h.pid) && procStartTime(h.pid) === h.start;
}

/**
 * StateLock is the state directory's `.lock`: the file exists while one process changes pin
 * files. It is written whole before it appears (a temporary file, then link(2), which fails with
 * EEXIST if a lock is there), so it is never seen empty. A lock whose holder cannot be shown
 * alive is broken; one held by a live process is waited for up to LOCK_WAIT_MS, then a
 * one-line EBUSY error names the holder. A directory where the lock cannot be made at all
 * (`--bpffs /proc`, read-only, not ours) is a one-line error naming it, at once.
 */
export class StateLock {
  readonly #dir: string;
  readonly #lock: string;
  #mine?: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.#lock = join(dir, '.lock');
  }

  acquire(): void {
    const me = `${process.pid} ${procStartTime(process.pid) ?? 0}\n`;
    const tmp = `${this.#lock}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      writeFileSync(tmp, me, { flag: 'wx', mode: 0o600 });
    } catch (e) {
      throw this.#cannot(e);
    }
    try {
      const deadline = Date.now() + LOCK_WAIT_MS;
      for (;;) {
        try {
          linkSync(tmp, this.#lock);
          this.#mine = me;
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw this.#cannot(e);
        }
        let text: string;
        let ino: number;
        try {
          ino = lstatSync(this.#lock).ino;
          text = readFileSync(this.#lock, 'utf8');
        } catch {
          continue; // released meanwhile
        }
        const holder = parseHolder(text);
        if (!holderAlive(holder)) {
          this.#break(ino);
          continue;
        }
        if (Date.now() > deadline)
          throw new UserError(
            `EBUSY: the state directory ${this.#dir} is locked by process ${holder!.pid}, still running after ${LOCK_WAIT_MS / 1000} s`,
          );
        sleepSync(5);
      }
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        /* never made */
      }
    }
  }

  release(): void {
    try {
      if (this.#mine !== undefined && readFileSync(this.#lock, 'utf8') === this.#mine) unlinkSync(this.#lock);
    } catch {
      /* gone: broken by someone who could not see us alive */
    }
    this.#mine = undefined;
  }

  /**
   * #break removes a lock judged stale, only if it is still the same file (inode `ino`): it is
   * renamed aside first, so that of two processes breaking it at once only one removes it, and a
   * fresh lock taken meanwhile is put back.
   */
  #break(ino: number): void {
    const aside = `${this.#lock}.tmp-${process.pid}-stale`;
    try {
      renameSync(this.#lock, aside);
    } catch {
      return; // someone else broke it
    }
    if (lstatSync(aside).ino !== ino) {
      try {
        linkSync(aside, this.#lock);
      } catch {
        /* a third process took the lock meanwhile */
      }
    }
    unlinkSync(aside);
  }

  #cannot(e: unknown): UserError {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return new UserError(`${code}: cannot take the lock in the state directory ${this.#dir} (is it a writable directory of yours?)`, {
      cause: e,
    });
  }
}
