import { UserError } from './userError.js';

/**
 * Why a file could not be opened, read or written, by the errno Node reports (`ENOENT`,
 * `EISDIR`, …): the words strerror(3) uses, lower case, as one reason after the path.
 */
const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a component of the path is not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
};

/** FileError: a file the user named could not be opened, read or written (`capture x.pcap: no such file or directory`). */
export class FileError extends UserError {}

/** isFsError: whether `e` is a file-system error Node threw for a path (an ErrnoException with a code this table knows). */
export function isFsError(e: unknown): e is NodeJS.ErrnoException & { code: string } {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && (e as NodeJS.ErrnoException).code! in REASONS;
}

/**
 * fileError turns a file-system error about `path` into a FileError whose message names the
 * file's role (`capture`, `--out`, `data_in`), the path, the reason and what was expected:
 * `capture nope.pcap: no such file or directory (expected a pcap or pcapng file)`. Any other
 * error (a bug) is returned as it is, for the caller to rethrow.
 */
export function fileError(role: string, path: string, e: unknown, expected?: string): unknown {
  if (!isFsError(e)) return e;
  const why = REASONS[e.code];
  return new FileError(`${role} ${path}: ${why}${expected ? ` (expected ${expected})` : ''}`, { file: path, cause: e });
}
