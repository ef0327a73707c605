import { UserError } from '../../uapi/userError.js';
import type { Output } from './command.js';

/**
 * printUserError prints an error bad input caused (a UserError) as one line with no stack,
 * `Error: …` on stderr or `{"error": …}` on stdout with -j, and says whether it was one.
 * Anything else is a bug: the caller rethrows it, and it keeps its stack.
 */
export function printUserError(e: unknown, o: Pick<Output, 'json' | 'out' | 'err'>): e is UserError {
  if (!(e instanceof UserError)) return false;
  if (o.json) o.out(JSON.stringify({ error: e.message }));
  else o.err(`Error: ${e.message}`);
  return true;
}
