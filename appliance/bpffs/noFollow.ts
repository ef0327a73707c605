import { type Stats, closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { Errno, fail } from '../../uapi/errno.js';

/**
 * The state directory is never left through a symbolic link: a link planted inside it (by
 * another user of a shared directory, or by mistake) could otherwise make bpfbox write a pin
 * outside it, or read another file (`/etc/shadow`) as a pin and print its bytes. Each component
 * below the state directory is checked with lstat before use, and pin files are opened with
 * O_NOFOLLOW. The state directory itself (`--bpffs DIR`) is the user's choice and may be a link.
 */

/** linkError: the one-line error for a symbolic link found at `file` (bpffs path `path`), naming where it points. */
function linkError(path: string, file: string): never {
  let to = '?';
  try {
    to = readlinkSync(file);
  } catch {
    /* gone meanwhile */
  }
  fail(Errno.ELOOP, `${path}: ${file} is a symbolic link (to ${to}); bpfbox does not follow links in its state directory`);
}

/**
 * checkNoLinks lstat's every component of `file` below `dir` (`file` starts with `dir/`) and
 * refuses a symbolic link (ELOOP naming it). Components that do not exist end the walk: what
 * is created there is created by bpfbox. Returns the last component's Stats, if it exists.
 */
export function checkNoLinks(dir: string, file: string, path: string): Stats | undefined {
  const rel = file.slice(dir.length).split('/').filter(Boolean);
  let at = dir;
  let st: Stats | undefined;
  for (let i = 0; i < rel.length; i++) {
    at = `${at}/${rel[i]}`;
    try {
      st = lstatSync(at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ENOTDIR') fail(Errno.ENOTDIR, `${path}: ${at.slice(0, at.lastIndexOf('/'))} is not a directory`);
      if (code === 'ENAMETOOLONG') fail(Errno.ENAMETOOLONG, `${path.slice(0, 80)}…: name too long`);
      throw e;
    }
    if (st.isSymbolicLink()) linkError(path, at);
    if (i < rel.length - 1 && !st.isDirectory()) fail(Errno.ENOTDIR, `${path}: ${at} is not a directory`);
  }
  return st;
}

/** readNoFollow reads a pin file opened with O_NOFOLLOW (ELOOP naming the link), EISDIR for a directory, ENOENT when absent. */
export function readNoFollow(file: string, path: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') linkError(path, file);
    if (code === 'EISDIR') fail(Errno.EISDIR);
    fail(Errno.ENOENT, `no pin at ${path}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) fail(Errno.EISDIR);
    if (!st.isFile()) fail(Errno.EINVAL, `${path}: ${file} is not a regular file`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
