import { UserError } from '../../uapi/userError.js';

/** UsageError: a command line bpftool would refuse (exit 255; 1 for the yargs commands). */
export class UsageError extends UserError {}

/** usage throws a UsageError saying what is wrong with the command line. */
export const usage = (message: string): never => {
  throw new UsageError(message);
};
