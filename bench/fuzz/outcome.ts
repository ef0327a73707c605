/**
 * OUTCOMES: how one fuzz case ended. `accepted` and `clean error` are what bad input may
 * produce; every other class is a defect and saved as a reproducer.
 *
 * | class        | seen as                                                              |
 * |--------------|----------------------------------------------------------------------|
 * | accepted     | exit 0, no stack on stderr                                           |
 * | clean error  | exit ≠ 0, one line on stderr, no stack                               |
 * | long error   | exit ≠ 0, no stack, but more than one line on stderr (usage text…)   |
 * | stack trace  | the CLI's "internal error" marker, or a Node stack frame, on stderr  |
 * | hang         | still running at the time limit (killed)                             |
 * | crash        | ended by a signal we did not send                                    |
 * | out of memory| V8's "heap out of memory" (or a wasm/array allocation failure)       |
 */
export const OUTCOMES = ['accepted', 'clean error', 'long error', 'stack trace', 'hang', 'crash', 'out of memory'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** DEFECTS: the classes the smoke test holds at zero (a long error is untidy, not broken). */
export const DEFECTS: readonly Outcome[] = ['stack trace', 'hang', 'crash', 'out of memory'];

/** A stack frame as Node prints one (`    at f (file:…)`), or the CLI's own marker for a bug. */
const STACK = /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$|bpfbox: internal error/m;
const OOM =
  /heap out of memory|Reached heap limit|Allocation failed|WebAssembly\.Memory\(\): could not allocate|Array buffer allocation failed/;

/** Ended: what a child process left behind. */
export interface Ended {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stderr: string;
}

/** classify names the outcome of one case (OOM first: V8 aborts with SIGABRT and a stack of its own). */
export function classify(e: Ended): Outcome {
  if (OOM.test(e.stderr)) return 'out of memory';
  if (e.timedOut) return 'hang';
  if (e.signal !== null) return 'crash';
  if (STACK.test(e.stderr)) return 'stack trace';
  if (e.code === 0) return 'accepted';
  return e.stderr.trimEnd().split('\n').length <= 1 ? 'clean error' : 'long error';
}
