import type { ProgObject } from '../../kernel/objects.js';

/** BPF_FUNC_trace_printk: the helper id whose lines a TraceLog keeps. */
const BPF_FUNC_trace_printk = 6;
/** BACKLOG: lines kept while no reader follows, as the kernel's trace buffer keeps them for trace_pipe (oldest dropped). */
const BACKLOG = 1024;

/**
 * traceLine formats a bpf_trace_printk line as trace_pipe shows it
 * (kernel/trace/trace_output.c: `%16s-%-7d [%03d] FLAGS %5lu.%06lu: `):
 *
 *            bpfbox-4242    [001] ..... 12.345678: bpf_trace_printk: len 74
 *
 * comm is `bpfbox` and the pid the serve process's (the task that ran the program), the CPU
 * the worker (emulated CPU) that ran it, the five irq/preempt flags `.....` (no such context
 * here), and the time in seconds since the serve started (the kernel's is since boot), taken
 * when the main thread received the worker's batch.
 */
export function traceLine(text: string, cpu: number, seconds: number, pid = process.pid): string {
  const ts = `${Math.floor(seconds)}.${String(Math.floor((seconds % 1) * 1e6)).padStart(6, '0')}`;
  return `${'bpfbox'.padStart(16)}-${String(pid).padEnd(7)} [${String(cpu).padStart(3, '0')}] ..... ${ts.padStart(12)}: bpf_trace_printk: ${text}`;
}

/** callsTracePrintk: whether the program itself calls bpf_trace_printk (a serve then collects its lines; others keep running in batches). */
export function callsTracePrintk(prog: ProgObject): boolean {
  return prog.program.insns.some((i) => i.opcode === 0x85 && i.src === 0 && Number(i.imm) === BPF_FUNC_trace_printk);
}

/**
 * TraceLog is a serve's trace_pipe: the bpf_trace_printk lines of its programs, kept (the last
 * BACKLOG) until a reader follows (`bpfbox prog tracelog`), which takes them, as reading
 * trace_pipe consumes the trace buffer, then every new line as it comes.
 */
export class TraceLog {
  readonly #t0 = process.hrtime.bigint();
  readonly #readers = new Set<(line: string) => void>();
  #backlog: string[] = [];

  /** push adds a line CPU `cpu` printed. */
  push(text: string, cpu: number): void {
    const line = traceLine(text, cpu, Number(process.hrtime.bigint() - this.#t0) / 1e9);
    if (this.#readers.size) for (const r of this.#readers) r(line);
    else {
      this.#backlog.push(line);
      if (this.#backlog.length > BACKLOG) this.#backlog.shift();
    }
  }

  /** follow gives `reader` the kept lines and then each new one; it returns the function that stops it. */
  follow(reader: (line: string) => void): () => void {
    for (const l of this.#backlog.splice(0)) reader(l);
    this.#readers.add(reader);
    return () => this.#readers.delete(reader);
  }
}
