import { Kernel } from '../kernel/kernel.js';
import { loadCollection, loadProgram } from '../kernel/loadCollection.js';
import { strerror } from '../uapi/errno.js';
import { UserError } from '../uapi/userError.js';
import { BpfCallError } from './bpfCallError.js';
import { type ObjectSpec, type OpenOptions, openObject } from './objectSpec.js';
import { type VerifierLogEntry, parseVerifierLog } from './verifierLog.js';

/** VerifyOptions: the log level (0 none, 1 the failing path, 2 every instruction; +4 statistics), one program, knobs. */
export interface VerifyOptions extends OpenOptions {
  readonly logLevel?: number;
  readonly program?: string;
}

/** VerifyResult: what the verifier said of one program: accepted or the errno (as a BpfCallError), the log as text and entries. */
export interface VerifyResult {
  readonly program: string;
  readonly accepted: boolean;
  readonly errno?: number;
  readonly error?: BpfCallError;
  /** Instructions processed, as the log's statistics line says (when it has one). */
  readonly processed?: number;
  readonly log: string;
  readonly entries: VerifierLogEntry[];
}

/**
 * verify runs the verifier over each program of an object without keeping anything (`bpfbox
 * verify`): its maps are created in a throwaway kernel (global data written, .rodata frozen, as
 * at load), then each program goes through BPF_PROG_LOAD at the log level asked for (default 1).
 */
export function verify(obj: string | Uint8Array | ObjectSpec, options: VerifyOptions = {}): VerifyResult[] {
  const spec = (typeof obj === 'string' || obj instanceof Uint8Array ? openObject(obj, options) : obj).spec;
  const progs = spec.programs.filter((p) => options.program === undefined || p.name === options.program);
  if (!progs.length) throw new UserError(`${spec.name}: no program named ${options.program}`);
  const k = new Kernel();
  const loaded = loadCollection(k.process, spec, { mapsOnly: true });
  try {
    return progs.map((p) => {
      const r = loadProgram(k.process, spec, p, loaded.maps, options.logLevel ?? 1);
      if (r.fd >= 0) k.process.close(r.fd);
      const entries = parseVerifierLog(r.log);
      const stats = entries.find((e) => e.kind === 'stats');
      return {
        program: p.name,
        accepted: r.fd >= 0,
        ...(r.fd < 0 ? { errno: r.errno, error: new BpfCallError(`program ${p.name}: verify`, r.errno, strerror(r.errno)) } : {}),
        ...(stats?.kind === 'stats' ? { processed: stats.processed } : {}),
        log: r.log,
        entries,
      };
    });
  } finally {
    loaded.close();
  }
}
