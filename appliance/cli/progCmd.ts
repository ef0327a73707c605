import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { progTypeForSection } from '../../elf/sectionTypes.js';
import { CollectionLoadError, loadCollection } from '../../kernel/loadCollection.js';
import { BpfErrno, Errno, strerror } from '../../uapi/errno.js';
import { fileError } from '../../uapi/fileError.js';
import { readObjectFile } from '../datapath/load.js';
import type { ProgObject } from '../../kernel/objects.js';
import { type Cmd, type Output, cmdSelect } from './command.js';
import { printUserError } from './printUserError.js';
import { checkOutPath } from './outPath.js';
import { UsageError, usage } from './usageError.js';
import { displayName, progShowJson, progShowOf, progShowPlain, xlatedLines, xlatedPlain } from './progOutput.js';
import type { Session } from '../service/session.js';
import { RunEvents } from './runEvents.js';
import { pinmapsName } from '../bpffs/pinName.js';

/** ProgRef: `id N`, `pinned FILE`, `name NAME` or `tag TAG`. */
type ProgRef = { id: number } | { pinned: string } | { name: string } | { tag: string };

function parseProgRef(t: string[]): ProgRef {
  const kind = t.shift() ?? usage("expected 'id', 'pinned', 'name' or 'tag'");
  const v = t.shift() ?? usage(`expected a value after ${kind}`);
  if (kind === 'id') return /^\d+$/.test(v) ? { id: Number(v) } : usage(`can't parse ${v} as ID`);
  if (kind === 'pinned') return { pinned: v };
  if (kind === 'name') return { name: v };
  if (kind === 'tag') return /^[0-9a-f]{16}$/.test(v) ? { tag: v } : usage(`can't parse tag ${v}`);
  return usage(`expected 'id', 'pinned', 'name' or 'tag', got: '${kind}'?`);
}

/** allProgs: every pinned program (restored here) and this process's programs. */
function allProgs(s: Session): ProgObject[] {
  for (const path of s.store.walk()) {
    try {
      if (s.store.read(path).kind === 'prog') s.store.get(path);
    } catch (e) {
      if (!(e instanceof BpfErrno)) throw e;
    }
  }
  return [...s.kernel.progs.values()].sort((a, b) => a.id - b.id);
}

function resolve(s: Session, ref: ProgRef): ProgObject[] {
  if ('pinned' in ref) {
    const fd = s.kernel.bpf('BPF_OBJ_GET', { pathname: ref.pinned });
    if (fd < 0) throw new BpfErrno(-fd, `open ${ref.pinned}`);
    return [s.kernel.process.progOf(fd)];
  }
  const found = allProgs(s).filter((p) =>
    'id' in ref ? p.id === ref.id : 'name' in ref ? displayName(p) === ref.name || p.name === ref.name : p.tag === ref.tag,
  );
  if (found.length === 0) throw new BpfErrno(Errno.ENOENT, 'no such program');
  return found;
}

/** ProgArgs: what a `prog` verb's handler gets: the session, the rest of the command line, the output, `--set` knobs. */
interface ProgArgs {
  readonly s: Session;
  readonly t: string[];
  readonly o: Output;
  readonly set: Record<string, bigint>;
}

/** failed prints a failed bpf() command as bpftool does (`Error: can't pin the object (…): File exists`); exit 255. */
function failed(o: Output, what: string, e: unknown): number {
  if (!(e instanceof BpfErrno)) throw e;
  const msg = `${what}: ${strerror(e.errno)}`;
  if (o.json) o.out(JSON.stringify({ error: msg }));
  else o.err(`Error: ${msg}`);
  return 255;
}

/** doShow: `show|list [PROG]`. */
function doShow({ s, t, o }: ProgArgs): number {
  const named = t.length > 0;
  const progs = named ? resolve(s, parseProgRef(t)) : allProgs(s);
  const shows = progs.map((p) => progShowOf(p, o.pinned ? s.store.pathsOf(p) : []));
  if (o.json)
    o.out(JSON.stringify(!named || shows.length > 1 ? shows.map(progShowJson) : progShowJson(shows[0]), null, o.pretty ? 4 : undefined));
  else for (const p of shows) o.out(progShowPlain(p));
  return 0;
}

/** doDump: `dump xlated PROG [linum]`. */
function doDump({ s, t, o }: ProgArgs): number {
  const what = t.shift();
  if (what !== 'xlated') usage(`only 'dump xlated' is supported${what === 'jited' ? ': bpfbox does not JIT to machine code' : ''}`);
  const progs = resolve(s, parseProgRef(t));
  const linum = t.includes('linum');
  for (const p of progs) {
    if (o.json)
      o.out(JSON.stringify(xlatedLines(p, linum).map((l) => ({ ...(l.source ? { src: l.source.slice(2) } : {}), disasm: l.text }))));
    else o.out(xlatedPlain(p, linum));
  }
  return 0;
}

/** doPin: `pin PROG FILE`. */
function doPin({ s, t, o }: ProgArgs): number {
  const [p] = resolve(s, parseProgRef(t));
  const path = t.shift() ?? usage('expected a path');
  const fd = s.kernel.bpf('BPF_PROG_GET_FD_BY_ID', { prog_id: p.id });
  const r = s.kernel.bpf('BPF_OBJ_PIN', { pathname: path, bpf_fd: fd });
  if (r < 0) return failed(o, `can't pin the object (${path})`, new BpfErrno(-r));
  if (o.json) o.out('null');
  return 0;
}

/** doLoad: `load OBJ PATH [type TYPE] [pinmaps DIR]`: the first program, pinned at PATH. */
const doLoad = (a: ProgArgs): number => loadWithOptions(a, true);
/** doLoadall: `loadall OBJ PATH [type TYPE] [pinmaps DIR]`: every program, pinned under the directory PATH. */
const doLoadall = (a: ProgArgs): number => loadWithOptions(a, false);

/** loadWithOptions loads an object as bpftool's load_with_options does; `first` pins only its first program. */
function loadWithOptions({ s, t, o, set }: ProgArgs, first: boolean): number {
  const file = t.shift() ?? usage('expected an object file');
  const path = t.shift() ?? usage('expected a pin path');
  let type: number | undefined;
  let pinmaps: string | undefined;
  while (t.length) {
    const w = t.shift()!;
    if (w === 'type') {
      const name = t.shift() ?? usage('expected a program type');
      type = progTypeForSection(name) ?? usage(`unrecognized program type: ${name}`);
    } else if (w === 'pinmaps') pinmaps = t.shift() ?? usage('expected a directory');
    else usage(`unknown keyword ${w}`);
  }
  const bytes = readObjectFile(file);
  try {
    const spec = readCollection(bytes, { name: basename(file), set, type });
    const loaded = loadCollection(s.kernel.process, spec);
    const progs = [...loaded.programs];
    if (progs.length === 0) {
      loaded.close();
      throw new UsageError(`${file}: object file doesn't contain any bpf program`, { file });
    }
    // as bpftool's load_with_options: the program(s) pinned, then the maps; a map that will not pin unpins what this load pinned
    const pinned: string[] = [];
    const pin = (pathname: string, fd: number): number => {
      const r = s.kernel.bpf('BPF_OBJ_PIN', { pathname, bpf_fd: fd });
      if (r >= 0) pinned.push(pathname);
      return r;
    };
    if (first) {
      const r = pin(path, progs[0][1]);
      if (r < 0) throw new BpfErrno(-r, `pin ${path}`);
    } else {
      try {
        s.store.mkdir(path);
      } catch (e) {
        if (!(e instanceof BpfErrno) || e.errno !== Errno.EEXIST) throw e;
      }
      for (const [name, fd] of progs) {
        const r = pin(`${path}/${name}`, fd);
        if (r < 0) throw new BpfErrno(-r, `pin ${path}/${name}`);
      }
    }
    if (pinmaps) {
      try {
        s.store.mkdir(pinmaps);
      } catch (e) {
        if (!(e instanceof BpfErrno) || e.errno !== Errno.EEXIST) throw e;
      }
      for (const [name, fd] of loaded.maps) {
        const r = pin(`${pinmaps}/${pinmapsName(name)}`, fd);
        if (r >= 0) continue;
        for (const p of pinned.reverse()) s.store.unlink(p); // pins this load made, removed as bpftool's err_unpin
        loaded.close();
        const msg = `failed to pin all maps (${pinmaps}/${pinmapsName(name)}: ${strerror(-r)})`;
        if (o.json) o.out(JSON.stringify({ error: msg }));
        else o.err(`Error: ${msg}`);
        return 255;
      }
    }
    if (o.json) o.out('null');
    return 0;
  } catch (e) {
    // a program the verifier refused: its log, framed as libbpf frames it (bpftool -d)
    if (e instanceof CollectionLoadError && e.log !== undefined && e.what.startsWith('program ')) {
      const name = e.what.slice('program '.length);
      if (o.json) o.out(JSON.stringify({ error: `load program ${name}: ${strerror(e.errno)}`, log: e.log }));
      else {
        o.err(`libbpf: prog '${name}': BPF program load failed: ${strerror(e.errno)}`);
        o.err(`libbpf: prog '${name}': -- BEGIN PROG LOAD LOG --\n${e.log.replace(/\n$/, '')}\n-- END PROG LOAD LOG --`);
        o.err('Error: failed to load object file');
      }
      return 255;
    }
    if (!printUserError(e, o)) throw e;
    return 255;
  }
}

/** RUN_SIZE_MAX: the largest data_size_out/ctx_size_out `prog run` allocates (bpftool's calloc of a u32 may take 4 GiB; bpfbox stops at 64 MiB). */
const RUN_SIZE_MAX = 64 << 20;
/** REPEAT_MAX: the largest `repeat` (the kernel's test run takes a u32). */
const REPEAT_MAX = 0xffff_ffff;

/**
 * runNumber reads a `prog run` number as bpftool's strtoul(…, 0) does (0x hex, leading 0
 * octal, else decimal); what does not parse is bpftool's one line (`can't parse abc as repeat
 * number`). A negative number (which strtoul wraps to a huge one) is refused with the same line,
 * and a size past RUN_SIZE_MAX names the limit.
 */
function runNumber(v: string, what: string): number {
  const m = /^(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.exec(v);
  if (!m) return usage(`can't parse ${v} as ${what}`);
  const n = Number(/^0[0-7]/.test(v) ? parseInt(v, 8) : v);
  const max = what === 'repeat number' ? REPEAT_MAX : RUN_SIZE_MAX;
  if (n > max) usage(`${what} ${v} is larger than ${max}${what === 'repeat number' ? '' : ' bytes (bpfbox limit)'}`);
  return n;
}

/** bpftool's default data_size_out for `prog run` (a larger data_out is ENOSPC, as in bpftool). */
const BPFTOOL_DATA_SIZE_OUT = 32768;

/**
 * doRun: `run PROG data_in FILE [data_out FILE] [ctx_in FILE] [ctx_out FILE] [repeat N]`,
 * BPF_PROG_TEST_RUN through the door, printed as bpftool prints it.
 */
function doRun({ s, t, o }: ProgArgs): number {
  const [p] = resolve(s, parseProgRef(t));
  const args: Record<string, string> = {};
  while (t.length) {
    const k = t.shift()!;
    if (!['data_in', 'data_out', 'ctx_in', 'ctx_out', 'repeat', 'data_size_out', 'ctx_size_out', '--events'].includes(k))
      usage(`unknown keyword ${k}`);
    args[k] = t.shift() ?? usage(`expected a value after ${k}`);
  }
  if (!args.data_in) usage('data_in expected');
  // outputs that could not be written are refused before the run (whose map updates would stay)
  checkOutPath('data_out', args.data_out);
  checkOutPath('ctx_out', args.ctx_out);
  // --events - shares standard output with the run's lines, not with bytes or JSON there
  if (args['--events'] === '-' && (o.json || args.data_out === '-' || args.ctx_out === '-'))
    usage('--events -: standard output already carries the output (-j, or data_out/ctx_out -); give --events a file');
  // a file that will not open is one line naming its keyword (bpftool: `failed to open input file`)
  const read = (f: string, keyword = 'data_in') => {
    try {
      return f === '-' ? readFileSync(0) : readFileSync(f);
    } catch (e) {
      throw fileError(keyword, f, e, 'a file of input bytes, or - for standard input');
    }
  };
  const repeat = args.repeat === undefined ? 1 : runNumber(args.repeat, 'repeat number');
  const dataSizeOut = args.data_size_out === undefined ? 0 : runNumber(args.data_size_out, 'output data size');
  const ctxSizeOut = args.ctx_size_out === undefined ? 0 : runNumber(args.ctx_size_out, 'output context size');
  const fd = s.kernel.bpf('BPF_PROG_GET_FD_BY_ID', { prog_id: p.id });
  const a = {
    prog_fd: fd,
    data_in: Uint8Array.from(read(args.data_in)),
    ctx_in: args.ctx_in ? Uint8Array.from(read(args.ctx_in, 'ctx_in')) : undefined,
    // bpftool always passes an output buffer: data_size_out bytes, 32768 unless told
    repeat,
    data_out: new Uint8Array(dataSizeOut || BPFTOOL_DATA_SIZE_OUT),
    ctx_out: new Uint8Array(ctxSizeOut || 256),
    retval: 0,
    duration: 0,
    data_size_out: 0,
    ctx_size_out: 0,
  };
  // a repeated run prints each trace line once, with its count (not `repeat` copies)
  if (repeat > 1) s.collectTraces();
  checkOutPath('--events', args['--events']);
  const events = args['--events'] === undefined ? undefined : new RunEvents(s, p, args['--events']);
  let r: number;
  try {
    r = s.kernel.bpf('BPF_PROG_TEST_RUN', a);
  } finally {
    s.flushTraces();
    events?.finish();
  }
  if (r < 0) {
    const msg = `failed to run program: ${strerror(-r)}`;
    if (o.json) o.out(JSON.stringify({ error: msg }));
    else o.err(`Error: ${msg}`);
    return 255;
  }
  const write = (f: string, b: Uint8Array) => (f === '-' ? process.stdout.write(b) : writeFileSync(f, b));
  if (args.data_out) write(args.data_out, a.data_out.subarray(0, a.data_size_out));
  if (args.ctx_out) write(args.ctx_out, a.ctx_out.subarray(0, a.ctx_size_out));
  if (o.json) o.out(JSON.stringify({ retval: a.retval, duration: a.duration }));
  else o.out(`Return value: ${a.retval}, duration${repeat > 1 ? ' (average)' : ''}: ${a.duration}ns`);
  return 0;
}

/** PROG_CMDS: the `prog` verbs, as bpftool's prog.c `cmds[]` (an alias is a second row). */
const PROG_CMDS: readonly Cmd<ProgArgs>[] = [
  { cmd: 'show', fn: doShow },
  { cmd: 'list', fn: doShow },
  { cmd: 'dump', fn: doDump },
  { cmd: 'pin', fn: doPin },
  { cmd: 'load', fn: doLoad },
  { cmd: 'loadall', fn: doLoadall },
  { cmd: 'run', fn: doRun },
];

/** runProgCommand runs `bpfbox prog …` and returns the exit code. */
export async function runProgCommand(s: Session, argv: readonly string[], o: Output, set: Record<string, bigint> = {}): Promise<number> {
  const [verb, ...t] = argv;
  const fn = cmdSelect(PROG_CMDS, verb, 'prog');
  try {
    return await fn({ s, t, o, set });
  } catch (e) {
    if (e instanceof BpfErrno) return failed(o, e.errno === Errno.ENOENT ? "can't open program" : 'failed', e);
    throw e;
  }
}
