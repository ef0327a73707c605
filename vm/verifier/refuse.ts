import { BpfError } from '../errors.js';

/** Errnos the verifier answers with (include/uapi/asm-generic/errno-base.h, ENOTSUPP from linux/errno.h). */
export const EACCES = 13;
export const EINVAL = 22;
export const EBADF = 9;
export const E2BIG = 7;
export const EFAULT = 14;
export const ENOTSUPP = 524;

/**
 * Refused: the program is rejected here (errno and the kernel's message, its log's last line).
 * A verdict on the user's program, not a crash: a BpfError (verifyProgram turns it into a result).
 */
export class Refused extends BpfError {
  readonly errno: number;
  /** Log lines the kernel prints after the message (the two states of an infinite loop). */
  readonly details: readonly string[];
  /** Log lines it prints before it (`invalid access to packet, off=14 size=1, R2(id=0,off=14,r=0)`). */
  readonly before: readonly string[];
  constructor(errno: number, message: string, details: readonly string[] = [], before: readonly string[] = []) {
    super(message);
    this.errno = errno;
    this.details = details;
    this.before = before;
  }
}

/** Unsupported: a construct bpfbox's verifier does not model; the program is refused with ENOTSUPP saying what (a verdict, a BpfError). */
export class Unsupported extends BpfError {}

export const refuse = (m: string, errno = EACCES): never => {
  throw new Refused(errno, m);
};
export const unsupported = (m: string): never => {
  throw new Unsupported(m);
};

/** BPF_MAX_VAR_OFF: the largest variable offset a pointer may carry (1 << 29). */
export const MAX_VAR_OFF = 1n << 29n;
/** MAX_PACKET_OFF: packet offsets are 16-bit. */
export const MAX_PACKET_OFF = 0xffff;
