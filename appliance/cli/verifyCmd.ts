import { readObjectFile } from '../datapath/load.js';
import { basename } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { loadCollection, loadProgram } from '../../kernel/loadCollection.js';
import { progTypeForSection } from '../../elf/sectionTypes.js';
import { strerror } from '../../uapi/errno.js';
import { Kernel } from '../../kernel/kernel.js';
import { UsageError } from './usageError.js';

/** VerifyOutcome: what the verifier said of one program of an object. */
export interface VerifyOutcome {
  readonly name: string;
  readonly accepted: boolean;
  /** The errno and its text when refused. */
  readonly errno?: number;
  readonly error?: string;
  /** Instructions processed, as the log's last line says. */
  readonly processed?: number;
  readonly microseconds: number;
  readonly log: string;
}

/** VerifyOptions: the object, a program of it (default: all), the log level, knobs set before load. */
export interface VerifyCommandOptions {
  readonly obj: string;
  readonly prog?: string;
  readonly logLevel: number;
  readonly type?: string;
  readonly set?: Record<string, bigint>;
}

/**
 * verifyObject runs the verifier over each program of a clang object without keeping
 * anything: its maps are made in a throwaway kernel (global data written, .rodata frozen, as
 * at load), then each program goes through BPF_PROG_LOAD with the log level asked for.
 */
export function verifyObject(o: VerifyCommandOptions): VerifyOutcome[] {
  const type = o.type === undefined ? undefined : progTypeForSection(o.type);
  if (o.type !== undefined && type === undefined) throw new UsageError(`unrecognized program type: ${o.type}`);
  const spec = readCollection(readObjectFile(o.obj), { name: basename(o.obj), set: o.set ?? {}, type });
  const progs = spec.programs.filter((p) => o.prog === undefined || p.name === o.prog);
  if (!progs.length) throw new UsageError(`${o.obj}: no program named ${o.prog}`);
  const k = new Kernel();
  const loaded = loadCollection(k.process, spec, { mapsOnly: true });
  return progs.map((p) => {
    const t0 = process.hrtime.bigint();
    const r = loadProgram(k.process, spec, p, loaded.maps, o.logLevel);
    const microseconds = Number(process.hrtime.bigint() - t0) / 1000;
    if (r.fd >= 0) k.process.close(r.fd);
    const processed = /processed (\d+) insns/.exec(r.log)?.[1];
    return {
      name: p.name,
      accepted: r.fd >= 0,
      microseconds,
      log: r.log,
      processed: processed === undefined ? undefined : Number(processed),
      ...(r.fd < 0 ? { errno: r.errno, error: strerror(r.errno) } : {}),
    };
  });
}

/** verifyText: bpftool's shape: each program's log, then a line saying what happened. */
export function verifyText(outcomes: readonly VerifyOutcome[]): string {
  return outcomes
    .map(
      (v) =>
        `${v.log}${v.log && !v.log.endsWith('\n') ? '\n' : ''}${v.name}: ${v.accepted ? 'accepted' : `refused: ${v.error} (errno ${v.errno})`}` +
        ` (${v.processed ?? '?'} insns processed, ${v.microseconds.toFixed(0)} us)`,
    )
    .join('\n');
}
