#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import type { EngineName } from '../../vm/engine.js';
import type { Session } from '../service/session.js';
import { UserError } from '../../uapi/userError.js';
import { printUserError } from './printUserError.js';
import { tcpdumpArgs } from './tcpdumpArgs.js';
import { UsageError } from './usageError.js';
import { GRAMMAR, HELP_WORDS, grammarText } from './grammar.js';

// Start-up: every command's module (the VM, the JIT, the ELF loader, the datapath, ajv,
// prom-client, yargs itself) is imported inside the handler that needs it, so `--version`,
// `help` and a mistyped command line load none of them.

/** ENGINES: the names `--engine` takes (vm/engines.ts's ENGINES, repeated so that parsing loads no engine; a test checks they agree). */
const ENGINES: readonly EngineName[] = ['interpreter', 'jit'];

/** version: package.json's, read beside dist/ as yargs would find it. */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/**
 * positiveInt parses a count option (`--workers 2`): digits only, at least 1; anything else
 * (`abc`, `0`, `1.5`, `-2`) is a UserError naming the option and the value.
 */
function positiveInt(option: string, what: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const s = String(Array.isArray(v) ? v.at(-1) : v);
  if (!/^\d+$/.test(s) || Number(s) < 1) throw new UserError(`${option} ${s}: expected ${what}, a whole number of at least 1`);
  return Number(s);
}

/** workers: `--workers N`, checked inside the handler (not by yargs) so that a bad value is one line, not usage. */
const workers = (v: unknown) => positiveInt('--workers', 'a number of worker threads', v);

/**
 * bpftool-style commands (`bpfbox [-j|-p] [-f] [--bpffs DIR] map …`) are parsed by hand, as
 * bpftool parses them: options anywhere, then OBJECT COMMAND ARGS. `-f` lists pinned paths as
 * bpftool's does; `--bpffs DIR` (unlike bpftool's flag of that name) chooses the state
 * directory behind /sys/fs/bpf; `--routes FILE` gives bpf_fib_lookup its route table. The rest
 * goes to yargs.
 */
async function bpftoolStyle(raw: string[]): Promise<number | undefined> {
  let json = false;
  let pretty = false;
  let pinned = false;
  let bpffs: string | undefined;
  let routes: string | undefined;
  let engine: EngineName | undefined;
  const sets: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const a = raw[i];
    if (a === '-j' || a === '--json') json = true;
    else if (a === '-p' || a === '--pretty') json = pretty = true;
    else if (a === '-f') pinned = true;
    else if (a === '--bpffs') bpffs = raw[++i];
    else if (a.startsWith('--bpffs=')) bpffs = a.slice(8);
    else if (a === '--routes') routes = raw[++i];
    else if (a.startsWith('--routes=')) routes = a.slice(9);
    else if (a === '--engine' || a.startsWith('--engine=')) {
      const e = a === '--engine' ? raw[++i] : a.slice(9);
      if (!ENGINES.includes(e as EngineName)) {
        process.stderr.write(`Error: --engine: expected one of ${ENGINES.join(', ')}\n`);
        return 255;
      }
      engine = e as EngineName;
    } else if (a === '--set') sets.push(raw[++i] ?? '');
    else if (a.startsWith('--set=')) sets.push(a.slice(6));
    else rest.push(a);
  }
  if (rest[0] !== 'map' && rest[0] !== 'prog' && rest[0] !== 'net') return undefined;
  // `bpfbox prog help`, `bpfbox map --help`: the object's grammar, as bpftool's do_help
  if (rest.slice(1).some((w, i) => (i === 0 ? HELP_WORDS.has(w) : w === '--help' || w === '-h'))) {
    process.stdout.write(grammarText(rest[0] as keyof typeof GRAMMAR) + '\n');
    return 0;
  }
  const out = {
    json,
    pretty,
    pinned,
    out: (t: string) => process.stdout.write(t + '\n'),
    err: (t: string) => process.stderr.write(t + '\n'),
  };
  if (rest[0] === 'net')
    try {
      const [{ runNetCommand }, { stateDir }] = await Promise.all([import('./netCmd.js'), import('../bpffs/filePinStore.js')]);
      return await runNetCommand(stateDir(bpffs), rest.slice(1), out);
    } catch (e) {
      if (!printUserError(e, out)) throw e;
      return 255;
    }
  // `prog tracelog` follows running serves and takes no session (whose state lock would stop their pin writes)
  if (rest[0] === 'prog' && rest[1] === 'tracelog') {
    const [{ runTracelog }, { stateDir }] = await Promise.all([import('./tracelogCmd.js'), import('../bpffs/filePinStore.js')]);
    return runTracelog(stateDir(bpffs), out);
  }
  let session: Session | undefined;
  try {
    const [{ parseSet }, { readRouteTable }, { Session }] = await Promise.all([
      import('../config/parseSet.js'),
      import('../config/routes.js'),
      import('../service/session.js'),
    ]);
    const set = Object.fromEntries(sets.map(parseSet));
    session = new Session({ bpffs, routes: routes === undefined ? undefined : readRouteTable(routes), engine }).begin();
    if (rest[0] === 'map') return await (await import('./mapCmd.js')).runMapCommand(session, rest.slice(1), out);
    return await (await import('./progCmd.js')).runProgCommand(session, rest.slice(1), out, set);
  } catch (e) {
    if (!printUserError(e, out)) throw e;
    return 255;
  } finally {
    session?.finish();
  }
}

/**
 * reportErrors runs a command and turns the errors bad input causes (a UserError: a capture,
 * an object, a config, a map-init file) into `Error: …` on stderr (or {"error": …} with -j)
 * and exit code 1; anything else is a bug and keeps its stack.
 */
async function reportErrors(json: boolean, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (e) {
    if (printUserError(e, { json, out: (t) => console.log(t), err: (t) => console.error(t) })) process.exitCode = 1;
    else reportBug(e);
  }
}

// a reader that closed the pipe (`| head`) is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

/**
 * reportBug prints an error that is not a UserError, a bug in bpfbox, after a line that says
 * so, with its stack (for the report), and sets exit code 70 (EX_SOFTWARE).
 */
function reportBug(e: unknown): void {
  console.error('bpfbox: internal error (a bug in bpfbox, not in your input; please report it with the lines below):');
  console.error(e instanceof Error ? (e.stack ?? String(e)) : e);
  // the installed command is a bundle: its source maps turn the stack into TypeScript lines
  if (!(process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled)
    console.error('(NODE_OPTIONS=--enable-source-maps, in a checkout, gives the stack in source lines)');
  process.exitCode = 70;
}

/**
 * singleValues (yargs middleware): a string option given twice is an array to yargs, which a
 * handler would take for a path (`--obj a.o --obj b.o`); one line saying so instead.
 */
function singleValues(argv: Record<string, unknown>, y: { getOptions(): { string: string[]; array: string[] } }): void {
  const o = y.getOptions();
  for (const k of o.string) {
    const v = argv[k];
    if (!o.array.includes(k) && Array.isArray(v))
      throw new UsageError(`--${k} given ${v.length} times (${v.join(', ')}): it takes one value`);
  }
}

/** main runs one command line: `--version`, a bpftool-style object (map, prog, net), or a yargs command. */
async function main(raw: string[]): Promise<void> {
  // `--version` alone needs nothing else: answered before yargs (and everything) loads
  if (raw.length === 1 && (raw[0] === '--version' || raw[0] === '-V')) {
    process.stdout.write(version() + '\n');
    return;
  }
  // `bpfbox help`, `bpfbox replay help`: bpftool's word for --help, on the yargs commands too
  if (raw.length <= 2 && raw.at(-1) === 'help' && !['map', 'prog', 'net'].includes(raw[0])) raw = [...raw.slice(0, -1), '--help'];
  const code = await bpftoolStyle(raw);
  if (code !== undefined) {
    process.exitCode = code;
    return;
  }
  const { default: yargs } = await import('yargs');
  const parser = yargs(raw);
  skipHelpCache(parser);
  await parser
    .scriptName('bpfbox')
    .command(
      'conformance <dir>',
      'run every .data vector of an eBPF conformance directory (or one .data file)',
      (y) =>
        y
          .positional('dir', { type: 'string', demandOption: true, describe: 'directory of .data files' })
          .option('engine', { choices: ENGINES, describe: 'default: jit, or the interpreter with --trace (it alone follows instructions)' })
          .option('json', { alias: 'j', type: 'boolean', default: false, describe: 'print the counts, skips and failures as JSON' })
          .option('trace', { type: 'boolean', default: false, describe: 'print each executed instruction and the registers it changed' }),
      async (argv) => {
        const trace = argv.trace ? (line: string) => console.log(line) : undefined;
        if (trace && argv.engine === 'jit') {
          console.error('Error: conformance: --trace follows instructions in the interpreter only (--engine interpreter)');
          process.exitCode = 2;
          return;
        }
        const [{ runConformanceDir }, { DEFAULT_ENGINE, engineByName }] = await Promise.all([
          import('./conformanceCmd.js'),
          import('../../vm/engines.js'),
        ]);
        const report = runConformanceDir(argv.dir, engineByName(argv.engine ?? (trace ? 'interpreter' : DEFAULT_ENGINE)), { trace });
        if (argv.json) {
          const { outcomes: _outcomes, ...rest } = report;
          console.log(JSON.stringify(rest));
        } else {
          for (const f of report.failures) console.log(`FAIL ${f.file}: expected ${f.expected}, got ${f.got}`);
          for (const s of report.skipped) console.log(`SKIP ${s.file}: ${s.reason}`);
          console.log(`engine ${report.engine}: ${report.passed} passed, ${report.failed} failed, ${report.skipped.length} skipped`);
        }
        process.exitCode = report.failed > 0 ? 1 : 0;
      },
    )
    .command(
      'replay [captures..]',
      'run every packet of pcap/pcapng captures through a program on per-CPU workers and report the verdicts',
      (y) =>
        y
          .positional('captures', { type: 'string', array: true, describe: 'pcap or pcapng files, replayed in order' })
          .option('r', {
            type: 'string',
            describe: 'FILE: a capture, as tcpdump -r (may repeat; - here or as a capture is standard input)',
          })
          .option('obj', { type: 'string', describe: 'clang-compiled BPF object (.o)' })
          .option('config', { type: 'string', describe: 'take the program, captures and settings from a config (flags given here win)' })
          .option('config-program', { type: 'string', describe: "which of the config's programs (default: the first source's)" })
          .option('prog', { type: 'string', describe: 'program name (default: the first of --type)' })
          .option('type', {
            choices: ['xdp', 'socket', 'tc'] as const,
            describe: 'program type to pick (and to give programs whose section names none)',
          })
          .option('workers', {
            type: 'string',
            describe: 'worker threads = emulated CPUs (default: the number of cores)',
          })
          .option('map-init', { type: 'string', describe: 'JSON file of map entries and prog-array slots set before the first packet' })
          .option('set', { type: 'string', array: true, describe: 'VAR=VALUE: a const volatile knob set before load' })
          .option('out', {
            alias: 'w',
            type: 'string',
            describe: 'write every packet (as the program left it) here; .pcapng carries the verdicts; - is standard output',
          })
          .option('out-pass', { type: 'string', describe: 'write the packets that go on here' })
          .option('out-drop', { type: 'string', describe: 'write the dropped packets here' })
          .option('deterministic', {
            type: 'boolean',
            describe: 'clock from packet timestamps, seeded random numbers: identical output every run',
          })
          .option('seed', { type: 'number', describe: 'seed for bpf_get_prandom_u32 with --deterministic' })
          .option('routes', { type: 'string', describe: 'route table for bpf_fib_lookup (JSON)' })
          .option('trace', { type: 'boolean', describe: 'print bpf_trace_printk output on stderr' })
          .option('engine', {
            choices: ENGINES,
            describe: "run programs interpreted or compiled to WebAssembly (default: the config's, else jit)",
          })
          .option('preload', {
            type: 'boolean',
            describe: 'read the captures into memory before the clock starts (as tcpreplay --preload-pcap)',
          })
          .option('pinmaps', {
            type: 'string',
            describe:
              'pin every map, as the run left it, under this /sys/fs/bpf directory (then: bpfbox map dump pinned DIR/NAME); pins a previous run left are replaced',
          })
          .option('bpffs', { type: 'string', describe: 'state directory behind /sys/fs/bpf (for --pinmaps)' })
          .option('events', {
            type: 'string',
            describe: 'FILE.jsonl: write ring buffer and perf events as JSON lines (- is standard output; the summary then goes to stderr)',
          })
          .option('json', { alias: 'j', type: 'boolean', default: false, describe: 'print the summary as JSON' }),
      async (argv) => {
        await reportErrors(argv.json, async () =>
          (await import('./replayCmd.js')).runReplay({
            captures: (argv.captures as string[] | undefined) ?? [],
            config: argv.config,
            configProgram: argv['config-program'],
            obj: argv.obj,
            prog: argv.prog,
            type: argv.type,
            workers: workers(argv.workers),
            mapInit: argv['map-init'],
            set: argv.set,
            out: argv.out,
            outPass: argv['out-pass'],
            outDrop: argv['out-drop'],
            deterministic: argv.deterministic,
            seed: argv.seed,
            routes: argv.routes,
            json: argv.json,
            trace: argv.trace,
            engine: argv.engine,
            preload: argv.preload,
            pinmaps: argv.pinmaps,
            bpffs: argv.bpffs,
            events: argv.events,
          }),
        );
      },
    )
    .command(
      'live',
      'filter live traffic: a bridge between --dev and --peer that applies the verdicts, or a tap on --dev alone (AF_PACKET; root)',
      (y) =>
        y
          .option('dev', { type: 'string', array: true, default: [], describe: 'interface to receive on (repeat for more bridged pairs)' })
          .option('peer', { type: 'string', array: true, default: [], describe: "the --dev's peer: what passes goes out there, and back" })
          .option('obj', { type: 'string', describe: 'clang-compiled BPF object (.o)' })
          .option('prog', { type: 'string', describe: 'program name (default: the first of --type)' })
          .option('type', { choices: ['xdp', 'tc', 'socket'], describe: 'program type, for picking the program' })
          .option('workers', {
            type: 'string',
            describe: 'worker threads = emulated CPUs (default: the number of cores)',
          })
          .option('offloads', {
            choices: ['off', 'passthrough'] as const,
            default: 'off' as const,
            describe:
              'off: turn GRO/LRO/TSO/GSO/tx checksums off on the interfaces (restored at exit); passthrough: keep them (PACKET_VNET_HDR)',
          })
          .option('on-error', {
            choices: ['drop', 'pass'] as const,
            default: 'drop' as const,
            describe: 'a worker that fails: its traffic dropped (fail-closed) or forwarded unexamined (fail-open)',
          })
          .option('out', {
            type: 'string',
            describe: 'write every run frame here (.pcapng carries the verdicts); in a tap, what a socket filter keeps',
          })
          .option('duration', { type: 'number', describe: 'stop after this many seconds (default: at SIGINT / SIGTERM)' })
          .option('map-init', { type: 'string', describe: 'JSON file of map entries set before the first frame' })
          .option('set', { type: 'string', array: true, describe: 'VAR=VALUE: a const volatile knob set before load' })
          .option('engine', { choices: ENGINES, describe: 'default: jit' })
          .option('json', { alias: 'j', type: 'boolean', default: false, describe: 'print the summary as JSON' }),
      async (argv) => {
        await reportErrors(argv.json, async () =>
          (await import('./liveCmd.js')).runLive({
            dev: argv.dev as string[],
            peer: argv.peer as string[],
            obj: argv.obj,
            prog: argv.prog,
            type: argv.type,
            workers: workers(argv.workers),
            offloads: argv.offloads,
            onError: argv['on-error'],
            out: argv.out,
            duration: argv.duration,
            mapInit: argv['map-init'],
            set: argv.set,
            json: argv.json,
            engine: argv.engine,
          }),
        );
      },
    )
    .command(
      'serve',
      'run the appliance from a config (--config), or hold the pinned BPF objects live for other bpfbox processes',
      (y) =>
        y
          .option('config', { type: 'string', describe: 'YAML config: programs, sources, metrics (see config/)' })
          .option('metrics-addr', {
            type: 'string',
            describe: "HOST:PORT for Prometheus /metrics (default 127.0.0.1:9435, or the config's)",
          })
          .option('bpffs', { type: 'string', describe: 'state directory behind /sys/fs/bpf' })
          .option('engine', {
            choices: ENGINES,
            describe: "run programs interpreted or compiled to WebAssembly (default: the config's, else jit)",
          })
          .option('flush-ms', {
            type: 'number',
            default: 1000,
            describe: 'without --config: how often (ms) the pinned objects held live are written back to the state directory',
          }),
      async (argv) => {
        const log = (l: string) => console.error(l);
        let stop: () => Promise<void>;
        if (argv.config) {
          let running;
          try {
            running = await (
              await import('../service/serveConfig.js')
            ).serveConfig({
              config: argv.config,
              metricsAddr: argv['metrics-addr'],
              bpffs: argv.bpffs,
              engine: argv.engine,
              log,
            });
          } catch (e) {
            await reportErrors(false, () => Promise.reject(e));
            return;
          }
          console.error(`bpfbox serve: metrics on ${running.metricsUrl}, control on ${running.socket}`);
          stop = running.stop;
        } else {
          const s = await (await import('../service/serve.js')).serve({ bpffs: argv.bpffs, flushEveryMs: argv['flush-ms'], log });
          console.error(`bpfbox serve: listening on ${s.socket}`);
          stop = s.stop;
        }
        const quit = () => {
          // a stop that does not finish in 10 s (a worker that will not end) still ends the process
          setTimeout(() => {
            console.error('bpfbox serve: stop took more than 10 s; exiting');
            process.exit(1);
          }, 10_000).unref();
          void stop().then(() => process.exit(0));
        };
        process.on('SIGINT', quit);
        process.on('SIGTERM', quit);
      },
    )
    .command(
      'verify <obj>',
      'run the verifier over the programs of a clang object without loading them; print the log',
      (y) =>
        y
          .positional('obj', { type: 'string', demandOption: true, describe: 'clang-compiled BPF object (.o)' })
          .option('prog', { type: 'string', describe: 'only this program' })
          .option('type', { type: 'string', describe: 'program type for programs whose section names none (xdp, socket, tc, …)' })
          .option('log-level', {
            type: 'number',
            default: 1,
            describe: 'verifier log level: 0 none, 1 the failing path, 2 every instruction with its state (+4: statistics)',
          })
          .option('set', { type: 'string', array: true, describe: 'VAR=VALUE: a const volatile knob set before load' })
          .option('json', { alias: 'j', type: 'boolean', default: false, describe: "print each program's outcome and log as JSON" }),
      async (argv) => {
        await reportErrors(argv.json, async () => {
          const [{ parseSet }, { verifyObject, verifyText }] = await Promise.all([
            import('../config/parseSet.js'),
            import('./verifyCmd.js'),
          ]);
          const set = Object.fromEntries((argv.set ?? []).map(parseSet));
          const outcomes = verifyObject({ obj: argv.obj, prog: argv.prog, type: argv.type, logLevel: argv['log-level'], set });
          console.log(argv.json ? JSON.stringify(outcomes) : verifyText(outcomes));
          process.exitCode = outcomes.every((v) => v.accepted) ? 0 : 1;
        });
      },
    )
    .command('net', "bpftool's net commands, on a running serve --config: show, list, attach, detach (bpfbox net help: the grammar)")
    .command(
      'map',
      "bpftool's map commands: show, list, dump, lookup, update, delete, getnext, pin, freeze, create, push, pop, peek, enqueue, dequeue (bpfbox map help: the grammar)",
    )
    .command('prog', "bpftool's prog commands: show, list, dump xlated, pin, load, loadall, run, tracelog (bpfbox prog help: the grammar)")
    .demandCommand(1, 'expected a command')
    .strict()
    .middleware(singleValues as never)
    .help()
    .alias('help', 'h')
    .version(version())
    .alias('version', 'V')
    .showHelpOnFail(false)
    .fail((msg, err, y) => {
      // an error a handler threw: the caller prints it (one line, or a bug's stack)
      if (err && !(err.name === 'YError')) throw err;
      // a command line that does not parse: this (sub)command's usage, then (thrown, and printed by the caller) what is wrong
      y.showHelp((usage: string) => console.error(usage + '\n'));
      throw new UsageError(msg ?? err?.message ?? 'the command line does not parse');
    })
    .parseAsync();
}

// `node main.js` with a bug: the bug line and stack, never an unhandled rejection's
// tcpdump's habits for replay (-r, a lone -, --out -) rewritten before yargs sees them
void main(tcpdumpArgs(process.argv.slice(2))).catch((e: unknown) => {
  if (printUserError(e, { json: false, out: (t) => console.log(t), err: (t) => console.error(t) })) process.exitCode = 1;
  else reportBug(e);
});

/**
 * skipHelpCache: yargs renders a command's whole help text (string widths, wrapping: 15-40 ms)
 * right after starting its handler, to print should the handler fail; bpfbox prints one line
 * for a failed command instead, so the text is never used. Without yargs' internal hook (another
 * yargs version) nothing changes.
 */
function skipHelpCache(parser: object): void {
  const internal = (parser as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } })
    .getInternalMethods;
  const usage = typeof internal === 'function' ? internal.call(parser).getUsageInstance?.() : undefined;
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}
