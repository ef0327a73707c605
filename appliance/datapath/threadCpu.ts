import { readFileSync } from 'node:fs';

/**
 * threadCpuNs: the time the calling thread has run on a CPU (ns), from the first field of
 * /proc/thread-self/schedstat (Linux's sched_info run_delay's neighbour, se.sum_exec_runtime);
 * 0 where there is no such file. The pipeline reads it around a pass and each worker around
 * each request when BPFBOX_THREAD_CPU is set, so that a loaded machine's preemption is not
 * counted as work: what the streamed-replay benchmark reports per thread.
 */
export function threadCpuNs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ', 1)[0]);
  } catch {
    return 0;
  }
}

/** THREAD_CPU: per-thread CPU is measured (the environment variable BPFBOX_THREAD_CPU is set). */
export const THREAD_CPU = Boolean(process.env.BPFBOX_THREAD_CPU);
