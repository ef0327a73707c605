import { UserError } from './userError.js';

/**
 * Errno: the error numbers bpf(2) returns, with the messages strerror(3) gives them (bpftool
 * prints these: `Error: update failed: Argument list too long`).
 */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENXIO: 6,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ELOOP: 40,
  ENOTEMPTY: 39,
  ENOLINK: 67,
  EPROTO: 71,
  EALREADY: 114,
  EINPROGRESS: 115,
  EOPNOTSUPP: 95,
  ENOTSUPP: 524,
} as const;

const MESSAGES: Record<number, string> = {
  [Errno.EPERM]: 'Operation not permitted',
  [Errno.ENOENT]: 'No such file or directory',
  [Errno.E2BIG]: 'Argument list too long',
  [Errno.EBADF]: 'Bad file descriptor',
  [Errno.EAGAIN]: 'Resource temporarily unavailable',
  [Errno.ENOMEM]: 'Cannot allocate memory',
  [Errno.EPROTO]: 'Protocol error',
  [Errno.EACCES]: 'Permission denied',
  [Errno.EFAULT]: 'Bad address',
  [Errno.EBUSY]: 'Device or resource busy',
  [Errno.EDEADLK]: 'Resource deadlock avoided',
  [Errno.EEXIST]: 'File exists',
  [Errno.ENXIO]: 'No such device or address',
  [Errno.ENODEV]: 'No such device',
  [Errno.ENOTDIR]: 'Not a directory',
  [Errno.EISDIR]: 'Is a directory',
  [Errno.EINVAL]: 'Invalid argument',
  [Errno.ENOSPC]: 'No space left on device',
  [Errno.ERANGE]: 'Numerical result out of range',
  [Errno.ENAMETOOLONG]: 'File name too long',
  [Errno.ELOOP]: 'Too many levels of symbolic links',
  [Errno.ENOTEMPTY]: 'Directory not empty',
  [Errno.EALREADY]: 'Operation already in progress',
  [Errno.EINPROGRESS]: 'Operation now in progress',
  [Errno.ENOLINK]: 'Link has been severed',
  [Errno.EOPNOTSUPP]: 'Operation not supported',
  [Errno.ENOTSUPP]: 'Unknown error 524',
};

/** strerror returns the C library's message for an errno. */
export function strerror(errno: number): string {
  return MESSAGES[errno] ?? `Unknown error ${errno}`;
}

/** errnoName returns `EINVAL` for 22, and so on. */
export function errnoName(errno: number): string {
  return Object.entries(Errno).find(([, v]) => v === errno)?.[0] ?? `E${errno}`;
}

/**
 * BpfErrno is a failed bpf() command, carrying its errno; the door turns it into a return
 * value. It is a UserError: bpftool reports these to the user (`Error: update failed: File exists`).
 */
export class BpfErrno extends UserError {
  readonly errno: number;
  constructor(errno: number, detail?: string) {
    super(`${errnoName(errno)}: ${detail ?? strerror(errno)}`);
    this.errno = errno;
  }
}

/** fail throws a BpfErrno. */
export function fail(errno: number, detail?: string): never {
  throw new BpfErrno(errno, detail);
}
