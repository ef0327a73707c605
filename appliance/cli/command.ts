import { usage } from './usageError.js';

/** Output collects what a command prints; `json`, `pretty` and `pinned` are -j, -p and -f. */
export interface Output {
  readonly json: boolean;
  readonly pretty: boolean;
  readonly pinned?: boolean;
  out(text: string): void;
  err(text: string): void;
}

/**
 * Cmd is one row of a verb table, bpftool's `struct cmd` (`{ "show", do_show }`): the verb
 * and the function that runs it with the rest of the command line, giving the exit code.
 * An alias is a second row naming the same function.
 */
export interface Cmd<A> {
  readonly cmd: string;
  readonly fn: (args: A) => Promise<number> | number;
}

/**
 * cmdSelect finds the row for `verb` in `cmds`, as bpftool's cmd_select does (but whole words
 * only, not prefixes); no verb, or one no row has, is a UsageError naming the `family`.
 */
export function cmdSelect<A>(cmds: readonly Cmd<A>[], verb: string | undefined, family: string): Cmd<A>['fn'] {
  if (verb === undefined) return usage(`expected a ${family} command`);
  return cmds.find((c) => c.cmd === verb)?.fn ?? usage(`unknown ${family} command '${verb}'`);
}
