import { followTraces, liveOwners } from '../service/control.js';
import type { Output } from './command.js';

/**
 * runTracelog is `bpfbox prog tracelog`, bpftool's reader of trace_pipe: it follows the
 * bpf_trace_printk lines of every running `bpfbox serve` of the state directory (their
 * control sockets) and prints them as they come, in trace_pipe's layout (traceLog.ts), until
 * Ctrl-C (exit 0) or until every serve has stopped. With no serve running it says so: exit 1.
 * It holds no state lock (a serve writes its pins while it runs).
 */
export async function runTracelog(state: string, o: Output): Promise<number> {
  const owners = liveOwners(state);
  if (!owners.length) {
    o.err(`Error: no bpfbox serve is running for ${state}: bpf_trace_printk lines come from the programs a serve runs`);
    return 1;
  }
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    const follows = owners.map((s) =>
      followTraces(s, (l) => o.out(l), stop.signal).catch((e: Error) => o.err(`Error: ${s}: ${e.message}`)),
    );
    await Promise.all(follows);
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
