import { BpfErrno } from '../uapi/errno.js';
import { BpfError } from '../vm/errors.js';

/**
 * BpfCallError: a library call the bpf() door refused. `errno` is the door's answer, `op` says
 * what was asked (`map proto_stats: update`), and `cause` is the BpfErrno, so the message reads
 * left to right down the call: `map proto_stats: update: E2BIG: Argument list too long`.
 */
export class BpfCallError extends BpfError {
  readonly errno: number;
  readonly op: string;
  constructor(op: string, errno: number, detail?: string) {
    const cause = new BpfErrno(errno, detail);
    super(`${op}: ${cause.message}`, { cause });
    this.errno = errno;
    this.op = op;
  }
}

/** check turns a bpf() return (an fd, 0, or -errno) into its value or a BpfCallError naming `op`. */
export function check(r: number, op: string): number {
  if (r < 0) throw new BpfCallError(op, -r);
  return r;
}
