/**
 * tcpdumpArgs rewrites a `bpfbox replay` command line so that tcpdump's habits reach yargs
 * intact: `-r FILE` (repeatable, also `-rFILE`) becomes the capture argument in its place,
 * so captures keep their order; a lone `-` capture becomes /dev/stdin (standard input, which
 * FileBytes reads as a stream); `--out -`, `-w -`, `--out-pass -`, `--out-drop -`, `--events -` become
 * `--out=-` etc. yargs drops a lone `-` (it re-parses positionals as `--captures -` and takes
 * `-` for a flag), so the rewrite happens before it parses. Other commands pass unchanged;
 * nothing after `--` is touched.
 */
export function tcpdumpArgs(args: readonly string[]): string[] {
  if (args[0] !== 'replay') return [...args];
  const out = [args[0]];
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (a === '-r' && i + 1 < args.length) out.push(capture(args[++i]));
    else if (/^-r./.test(a)) out.push(capture(a.slice(a[2] === '=' ? 3 : 2)));
    else if (OUTPUTS.has(a) && args[i + 1] === '-') out.push(`${a}=${args[++i]}`);
    else if (a === '-') out.push(STDIN);
    else out.push(a);
  }
  return out;
}

/** The output flags whose value may be `-` (standard output). */
const OUTPUTS = new Set(['--out', '-w', '--out-pass', '--out-drop', '--events']);
const STDIN = '/dev/stdin';
const capture = (c: string) => (c === '-' ? STDIN : c);
