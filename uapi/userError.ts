/** UserErrorOptions: where in the user's input an error is (each field optional), and what it wraps. */
export interface UserErrorOptions {
  /** The file the input came from: a capture, an object file, a config, a map-init or route table. */
  readonly file?: string;
  /** The line in a text file (1-based): assembly text, a config. */
  readonly line?: number;
  /** The byte offset in a binary file: a capture, an ELF section, BTF. */
  readonly offset?: number;
  /** The field, key path or section at fault: `routes[0].mtu`, `maps.blocked[3]`, `.BTF`. */
  readonly field?: string;
  /** The instruction a program error is about (its slot index). */
  readonly index?: number;
  /** The error this one wraps: a parse error, an errno, a file that would not open. */
  readonly cause?: unknown;
}

/**
 * UserError is the root of the errors bad input causes: an object file, a capture, a config,
 * a command line, a program the verifier refuses, an errno the bpf() door returns. The CLI
 * prints one of these as one line (`Error: …`) and exits non-zero; any other error is a bug
 * and keeps its stack. The message is the whole lower-case `context: detail` chain; the
 * structured fields say the same for code that wants them. It lives in `uapi/`, the floor,
 * so that every room may throw one (`BpfErrno`, the door's errno, is one too).
 */
export class UserError extends Error {
  readonly file?: string;
  readonly line?: number;
  readonly offset?: number;
  readonly field?: string;
  readonly index?: number;
  constructor(message: string, options: UserErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.file = options.file;
    this.line = options.line;
    this.offset = options.offset;
    this.field = options.field;
    this.index = options.index;
  }
}
