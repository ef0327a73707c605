import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { type LoadedCollection, loadCollection } from '../../kernel/loadCollection.js';
import { ProgType } from '../../uapi/progType.js';
import { Kernel } from '../../kernel/kernel.js';
import type { ProgObject } from '../../kernel/objects.js';
import { UserError } from '../../uapi/userError.js';
import { fileError } from '../../uapi/fileError.js';

/** The program types replay runs, by the names `--type` takes. */
export const REPLAY_TYPES: Readonly<Record<string, number>> = {
  xdp: ProgType.BPF_PROG_TYPE_XDP,
  socket: ProgType.BPF_PROG_TYPE_SOCKET_FILTER,
  tc: ProgType.BPF_PROG_TYPE_SCHED_CLS,
};
const typeName = (t: number) =>
  Object.entries(REPLAY_TYPES).find(([, v]) => v === t)?.[0] ?? (t === ProgType.BPF_PROG_TYPE_SCHED_ACT ? 'tc' : `type ${t}`);

/** ReplayLoadError: the object or the program choice does not work; the message says which. */
export class ReplayLoadError extends UserError {}

/**
 * readObjectFile reads the BPF object a command names (`replay --obj`, `prog load`, `verify`):
 * a file that cannot be read is one line, `object bpf/x.o: no such file or directory
 * (expected a clang-compiled BPF object (.o))`, the same for every command.
 */
export function readObjectFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw fileError('object', path, e, 'a clang-compiled BPF object (.o)');
  }
}

export interface LoadedReplay {
  readonly kernel: Kernel;
  readonly loaded: LoadedCollection;
  readonly prog: ProgObject;
}

/**
 * loadForReplay loads an object into a kernel of `ncpus` CPUs and picks the program: by
 * name, or the first of `--type`, or the first XDP, tc or socket filter program. A program
 * whose section names no type takes `--type`.
 */
export function loadForReplay(o: { obj: string; prog?: string; type?: string; ncpus: number; set?: Record<string, bigint> }): LoadedReplay {
  // programs run in the workers, which get the route tables with the pipeline's options
  const kernel = new Kernel({ ncpus: o.ncpus });
  return { kernel, ...loadObject(kernel, o) };
}

/** loadObject loads an object into an existing kernel (the service's) and picks the program as loadForReplay does. */
export function loadObject(
  kernel: Kernel,
  o: { obj: string; prog?: string; type?: string; set?: Record<string, bigint> },
): { loaded: LoadedCollection; prog: ProgObject } {
  const want = o.type === undefined ? undefined : REPLAY_TYPES[o.type];
  if (o.type !== undefined && want === undefined)
    throw new ReplayLoadError(`--type ${o.type}: expected one of ${Object.keys(REPLAY_TYPES).join(', ')}`);
  let spec = readCollection(readObjectFile(o.obj), { name: basename(o.obj), set: o.set });
  if (want !== undefined && spec.programs.some((p) => p.type === undefined))
    spec = { ...spec, programs: spec.programs.map((p) => (p.type === undefined ? { ...p, type: want } : p)) };
  // a program named on the command line is loaded even where its section says autoload off (`?xdp`)
  const loaded = loadCollection(kernel.process, spec, { autoload: o.prog === undefined ? [] : [o.prog] });
  const progOf = (fd: number) => kernel.process.fds.get(fd)!.obj as ProgObject;
  const runnable = (p: ProgObject) => Object.values(REPLAY_TYPES).includes(p.type) || p.type === ProgType.BPF_PROG_TYPE_SCHED_ACT;
  let prog: ProgObject | undefined;
  if (o.prog !== undefined) {
    const fd = loaded.programs.get(o.prog);
    if (fd === undefined)
      throw new ReplayLoadError(`${o.obj}: no program named ${o.prog} (it has ${[...loaded.programs.keys()].join(', ')})`);
    prog = progOf(fd);
    if (
      want !== undefined &&
      prog.type !== want &&
      !(want === ProgType.BPF_PROG_TYPE_SCHED_CLS && prog.type === ProgType.BPF_PROG_TYPE_SCHED_ACT)
    ) {
      throw new ReplayLoadError(`${o.obj}: program ${o.prog} is a ${typeName(prog.type)} program, not ${o.type}`);
    }
  } else {
    prog = [...loaded.programs.values()].map(progOf).find((p) => (want === undefined ? runnable(p) : p.type === want));
    if (!prog)
      throw new ReplayLoadError(
        `${o.obj}: no ${o.type ?? 'XDP, tc or socket filter'} program (it has ${[...loaded.programs.keys()].join(', ')})`,
      );
  }
  if (!runnable(prog))
    throw new ReplayLoadError(
      `${o.obj}: program ${prog.name} is a ${typeName(prog.type)} program; replay runs xdp, tc and socket filter programs`,
    );
  return { loaded, prog };
}
