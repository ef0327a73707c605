import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * PipelineMetrics: the appliance's own series, with prom-client:
 *   bpfbox_packets_total{program,verdict,cpu}, bpfbox_bytes_total{program,verdict,cpu}
 *   bpfbox_program_run_seconds{program}   one run in 64, sampled by the workers
 *   bpfbox_program_errors_total{program}  runs that faulted (handled as aborted)
 *   bpfbox_ingest_queue_depth{source}     packets read, not yet run
 *   bpfbox_dropped_overload_total{source} packets a paced source dropped because the workers fell behind
 *   bpfbox_not_run_total{source}          packets that could not be run (not Ethernet, runts)
 * and prom-client's default process series (process_cpu_seconds_total, process_resident_memory_bytes,
 * nodejs_eventloop_lag_seconds, nodejs_heap_size_used_bytes, ...), read at scrape time.
 * Per-packet counts are kept in plain maps on the hot path and handed to prom-client when
 * Prometheus scrapes.
 */
export class PipelineMetrics {
  readonly registry: Registry;
  /** Counts not yet handed to prom-client: program → verdict name → per CPU. */
  readonly #pending = new Map<string, Map<string, { packets: number; bytes: number }[]>>();
  readonly #packets: Counter<'program' | 'verdict' | 'cpu'>;
  readonly #bytes: Counter<'program' | 'verdict' | 'cpu'>;
  readonly runSeconds: Histogram<'program'>;
  readonly errors: Counter<'program'>;
  readonly queueDepth: Gauge<'source'>;
  readonly droppedOverload: Counter<'source'>;
  readonly notRun: Counter<'source'>;
  readonly sourceFailures: Counter<'source'>;

  constructor(registry = new Registry()) {
    this.registry = registry;
    collectDefaultMetrics({ register: registry });
    const flush = () => this.#flush();
    this.#packets = new Counter({
      name: 'bpfbox_packets_total',
      help: 'Packets run, by program, verdict and CPU',
      labelNames: ['program', 'verdict', 'cpu'],
      registers: [registry],
      collect: flush,
    });
    this.#bytes = new Counter({
      name: 'bpfbox_bytes_total',
      help: 'Bytes of the packets run (as the program left them), by program, verdict and CPU',
      labelNames: ['program', 'verdict', 'cpu'],
      registers: [registry],
      collect: flush,
    });
    this.runSeconds = new Histogram({
      name: 'bpfbox_program_run_seconds',
      help: 'Program run time per packet, one packet in 64 sampled',
      labelNames: ['program'],
      registers: [registry],
      buckets: [1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 1e-4, 1e-3],
    });
    this.errors = new Counter({
      name: 'bpfbox_program_errors_total',
      help: 'Program runs that faulted (the packet handled as an aborted run)',
      labelNames: ['program'],
      registers: [registry],
    });
    this.queueDepth = new Gauge({
      name: 'bpfbox_ingest_queue_depth',
      help: 'Packets read from a source and not yet run',
      labelNames: ['source'],
      registers: [registry],
    });
    this.droppedOverload = new Counter({
      name: 'bpfbox_dropped_overload_total',
      help: 'Packets a rate-paced source dropped because the workers fell behind',
      labelNames: ['source'],
      registers: [registry],
    });
    this.notRun = new Counter({
      name: 'bpfbox_not_run_total',
      help: 'Packets that could not be run (not convertible to Ethernet, runts, too long)',
      labelNames: ['source'],
      registers: [registry],
    });
    this.sourceFailures = new Counter({
      name: 'bpfbox_source_failures_total',
      help: 'Passes of a source that failed (a capture missing, unreadable or corrupt); a looping source retries',
      labelNames: ['source'],
      registers: [registry],
    });
  }

  /** hooks returns the Pipeline callbacks that feed the series of `program`. */
  hooks(program: string): {
    onPackets: (cpu: number, verdict: string, packets: number, bytes: number, faults: number) => void;
    onBatch: (cpu: number, samples: readonly number[]) => void;
  } {
    return {
      onPackets: (cpu, verdict, packets, bytes, faults) => {
        let byVerdict = this.#pending.get(program);
        if (!byVerdict) this.#pending.set(program, (byVerdict = new Map()));
        let byCpu = byVerdict.get(verdict);
        if (!byCpu) byVerdict.set(verdict, (byCpu = []));
        const p = (byCpu[cpu] ??= { packets: 0, bytes: 0 });
        p.packets += packets;
        p.bytes += bytes;
        if (faults) this.errors.inc({ program }, faults);
      },
      onBatch: (_cpu, samples) => {
        for (const ns of samples) this.runSeconds.observe({ program }, ns / 1e9);
      },
    };
  }

  #flush(): void {
    for (const [program, byVerdict] of this.#pending) {
      for (const [verdict, byCpu] of byVerdict) {
        byCpu.forEach((p, cpu) => {
          if (!p.packets) return;
          const labels = { program, verdict, cpu: String(cpu) };
          this.#packets.inc(labels, p.packets);
          this.#bytes.inc(labels, p.bytes);
          p.packets = p.bytes = 0;
        });
      }
    }
  }
}
