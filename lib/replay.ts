import { type ReplayOptions, type ReplaySummary, replay as replayCaptures } from '../appliance/datapath/replay.js';

/** ReplayProgress: how far a replay is: packets run, bytes of the current capture read, its size. */
export interface ReplayProgress {
  readonly kind: 'progress';
  readonly packets: number;
  readonly fileBytes: number;
  readonly totalBytes: number;
}

/** ReplayDone: the last item a replay yields: its summary (`bpfbox replay --json`), maps as the run left them. */
export interface ReplayDone {
  readonly kind: 'summary';
  readonly summary: ReplaySummary;
}

/** ReplayRunOptions: `bpfbox replay`'s options without the captures (given first) and the progress callback (iterated instead). */
export type ReplayRunOptions = Omit<ReplayOptions, 'captures' | 'progress'>;

/**
 * ReplayRun is a replay under way: iterate it for progress and, last, the summary; or await
 * `summary`. Progress is a state, not a log: a consumer slower than the run sees the latest.
 */
export class ReplayRun implements AsyncIterable<ReplayProgress | ReplayDone> {
  /** summary: the run's summary once it is done (rejects with the run's error). */
  readonly summary: Promise<ReplaySummary>;
  #latest?: ReplayProgress;
  #wake?: () => void;
  #done = false;

  constructor(captures: readonly string[], options: ReplayRunOptions) {
    this.summary = replayCaptures({
      ...options,
      captures,
      progress: (p) => {
        this.#latest = { kind: 'progress', ...p };
        this.#wake?.();
      },
    });
    const end = () => {
      this.#done = true;
      this.#wake?.();
    };
    this.summary.then(end, end);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ReplayProgress | ReplayDone> {
    for (;;) {
      if (this.#latest) {
        const p = this.#latest;
        this.#latest = undefined;
        yield p;
        continue;
      }
      if (this.#done) break;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
    yield { kind: 'summary', summary: await this.summary };
  }
}

/**
 * replay runs captures through an object's program on worker threads (the appliance's replay,
 * `bpfbox replay`). `replay(captures, options)` returns a ReplayRun to iterate or await;
 * `replay(options)` with `options.captures` is the older form and returns the summary.
 */
export function replay(captures: readonly string[], options: ReplayRunOptions): ReplayRun;
export function replay(options: ReplayOptions): Promise<ReplaySummary>;
export function replay(a: readonly string[] | ReplayOptions, b?: ReplayRunOptions): ReplayRun | Promise<ReplaySummary> {
  if (Array.isArray(a)) return new ReplayRun(a, b!);
  return replayCaptures(a as ReplayOptions);
}
