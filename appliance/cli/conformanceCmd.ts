import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileError } from '../../uapi/fileError.js';
import { type VectorOutcome, runVector } from '../../vm/conformance/runVector.js';
import { VectorError, parseVector } from '../../vm/conformance/vector.js';
import type { Engine } from '../../vm/engine.js';
import { AddressSpace } from '../../vm/memory.js';

/** ConformanceReport is the `--json` shape of `bpfbox conformance`. */
export interface ConformanceReport {
  engine: string;
  passed: number;
  failed: number;
  skipped: { file: string; reason: string }[];
  failures: { file: string; expected: string; got: string }[];
  outcomes: VectorOutcome[];
}

/** ConformanceOptions: `trace` receives every executed instruction of every vector. */
export interface ConformanceOptions {
  readonly trace?: (line: string) => void;
}

/**
 * runConformanceDir runs every `.data` file of `dir` (or the one file `dir` names) on `engine`. A file that is not a
 * well-formed vector counts as failed (its problem is the `got`), never silently skipped.
 */
export function runConformanceDir(dir: string, engine: Engine, options: ConformanceOptions = {}): ConformanceReport {
  let single: boolean;
  try {
    single = statSync(dir).isFile();
  } catch (e) {
    // the README's `conformance ../shared/conformance/tests` on a clone without the suite beside it
    throw fileError(
      'conformance',
      dir,
      e,
      'a directory of .data vectors, such as a clone of the eBPF conformance suite, or one .data file',
    );
  }
  const files = single
    ? [dir]
    : readdirSync(dir)
        .filter((f) => f.endsWith('.data'))
        .sort()
        .map((f) => join(dir, f));
  const report: ConformanceReport = { engine: engine.name, passed: 0, failed: 0, skipped: [], failures: [], outcomes: [] };
  const memory = new AddressSpace({ initialBytes: 1 << 20 });
  for (const f of files) {
    const name = basename(f);
    let outcome: VectorOutcome;
    try {
      outcome = runVector(parseVector(name, readFileSync(f, 'utf8')), engine, { memory, trace: options.trace });
    } catch (e) {
      if (!(e instanceof VectorError)) throw e;
      outcome = { file: name, passed: false, stage: 'assemble', expected: 'a well-formed vector', got: `error: ${e.message}` };
    }
    report.outcomes.push(outcome);
    if (outcome.passed) report.passed++;
    else {
      report.failed++;
      report.failures.push({ file: name, expected: outcome.expected, got: outcome.got });
    }
  }
  return report;
}
