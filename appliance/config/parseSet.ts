import { UserError } from '../../uapi/userError.js';

/** SetError: a `--set VAR=VALUE` that does not parse (its `field` is the text given). */
export class SetError extends UserError {}

/**
 * parseSet reads `VAR=VALUE` (decimal, or 0x hex, possibly negative): a const volatile knob
 * set before load, from `--set` on a command line or a program's `set:` in a config.
 */
export function parseSet(spec: string): [string, bigint] {
  const m = /^([A-Za-z_]\w*)=(-?(?:0x[0-9a-f]+|\d+))$/i.exec(spec);
  if (!m) throw new SetError(`--set ${spec}: expected VAR=VALUE`, { field: spec });
  const neg = m[2].startsWith('-');
  const v = BigInt(neg ? m[2].slice(1) : m[2]);
  return [m[1], neg ? -v : v];
}
