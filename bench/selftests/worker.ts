import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { Kernel } from '../../kernel/kernel.js';
import { loadCollection, loadProgram } from '../../kernel/loadCollection.js';
import { UserError } from '../../uapi/userError.js';
import { lastLogLine } from './logLine.js';

/**
 * The bpfbox side of the selftests differential, in a child process of its own so that the
 * runner can kill it when one program takes longer than its bound (10 s) and so that a crash
 * (out of heap, a RangeError) costs one program, not the run.
 *
 * argv: OBJ, a JSON list of program names to leave out (done in an earlier child), a JSON list of
 * program names to test-run (the ones with __retval) on 64 zero bytes, as test_loader does, and a
 * JSON list of the __auxiliary programs: loaded first and put in the prog-array slots that name
 * them (as the kernel side and test_loader do), so that tail calls find them.
 * stdout: one JSON line per event: {start: NAME} before a program, then its BpfboxResult.
 */

/** BpfboxResult: what bpfbox said of one program, loaded alone. */
export interface BpfboxResult {
  readonly name: string;
  /** accept, reject, crash (an exception that is not a user error: a bug in bpfbox), timeout (set by the runner). */
  readonly outcome: 'accept' | 'reject' | 'crash' | 'timeout';
  readonly errno: number;
  /** The verifier log's last line, or the error's message. */
  readonly msg: string;
  /** The test run's retval, or `E<errno>` when the run failed; absent when not asked. */
  readonly retval?: string;
  readonly ms: number;
}

function emit(o: object): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

function main(): void {
  const [obj, skipJson, runJson, auxJson] = process.argv.slice(2);
  const aux = new Set<string>(JSON.parse(auxJson ?? '[]'));
  const skip = new Set<string>(JSON.parse(skipJson ?? '[]'));
  const run = new Set<string>(JSON.parse(runJson ?? '[]'));
  let spec;
  try {
    spec = readCollection(readFileSync(obj), { name: basename(obj) });
  } catch (e) {
    const err = e instanceof UserError;
    emit({ object: err ? 'reject' : 'crash', msg: oneLine(e), errno: errnoOf(e) });
    return;
  }
  const k = new Kernel();
  let maps: ReadonlyMap<string, number>;
  try {
    maps = loadCollection(k.process, spec, { mapsOnly: true }).maps;
  } catch (e) {
    emit({ object: e instanceof UserError ? 'reject' : 'crash', msg: oneLine(e), errno: errnoOf(e) });
    return;
  }
  try {
    const auxFds = new Map<string, number>();
    for (const p of spec.programs.filter((p) => aux.has(p.name))) {
      const r = loadProgram(k.process, spec, p, maps, 0);
      if (r.fd >= 0) auxFds.set(p.name, r.fd);
    }
    for (const m of spec.maps)
      for (const [slot, target] of m.slots) {
        const fd = auxFds.get(target);
        const key = new Uint8Array(new Uint32Array([slot]).buffer);
        if (fd !== undefined)
          k.process.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: maps.get(m.name)!, key, value: new Uint8Array(new Uint32Array([fd]).buffer) });
      }
  } catch {
    // an auxiliary program bpfbox refuses: its slot stays empty, as its own row will say
  }
  emit({ programs: spec.programs.map((p) => p.name) });
  for (const p of spec.programs) {
    if (skip.has(p.name)) continue;
    emit({ start: p.name });
    const t0 = performance.now();
    let r: Omit<BpfboxResult, 'ms' | 'name'>;
    try {
      let load = loadProgram(k.process, spec, p, maps, 0);
      if (load.fd < 0) load = loadProgram(k.process, spec, p, maps, 1);
      if (load.fd < 0) r = { outcome: 'reject', errno: load.errno, msg: lastLogLine(load.log) };
      else {
        let retval: string | undefined;
        if (run.has(p.name)) {
          const a = { prog_fd: load.fd, data_in: new Uint8Array(64), data_out: new Uint8Array(256), repeat: 1, retval: 0 };
          const rc = k.process.bpf('BPF_PROG_TEST_RUN', a);
          retval = rc < 0 ? `E${-rc}` : String(a.retval >>> 0);
        }
        k.process.close(load.fd);
        r = { outcome: 'accept', errno: 0, msg: '', ...(retval !== undefined ? { retval } : {}) };
      }
    } catch (e) {
      r = { outcome: e instanceof UserError ? 'reject' : 'crash', errno: errnoOf(e), msg: oneLine(e) };
    }
    emit({ name: p.name, ...r, ms: Math.round(performance.now() - t0) });
  }
}

function oneLine(e: unknown): string {
  const m = e instanceof Error ? `${e instanceof UserError ? '' : e.name + ': '}${e.message}` : String(e);
  return m.replace(/\s+/g, ' ').slice(0, 400);
}

function errnoOf(e: unknown): number {
  const n = (e as { errno?: unknown }).errno;
  return typeof n === 'number' ? Math.abs(n) : 0;
}

main();
