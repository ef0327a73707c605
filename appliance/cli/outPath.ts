import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileError } from '../../uapi/fileError.js';

/**
 * checkOutPath refuses an output file (`--out`, `--out-pass`, `--out-drop`) that could not be
 * written, before anything runs: its directory missing or not writable, or the path a
 * directory. The FileError names the option and the path (`--out /nodir/x.pcapng: no such
 * file or directory (…)`). `-` (standard output) and undefined pass.
 */
export function checkOutPath(option: string, path: string | undefined): void {
  if (path === undefined || path === '-') return;
  const expected = 'a file to create in an existing, writable directory';
  try {
    accessSync(dirname(path), constants.W_OK);
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory())
      throw Object.assign(new Error(`EISDIR: ${path}`), { code: 'EISDIR', path });
  } catch (e) {
    throw fileError(option, path, e, expected);
  }
}
