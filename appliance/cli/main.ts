#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runConformanceDir } from './conformanceCmd.js';
import { DEFAULT_ENGINE, ENGINES, engineByName } from '../../vm/engines.js';
import type { EngineName } from '../../vm/engine.js';
import { runMapCommand } from './mapCmd.js';
import { runProgCommand } from './progCmd.js';
import { runNetCommand } from './netCmd.js';
import { stateDir } from '../bpffs/filePinStore.js';
import { parseSet } from '../config/parseSet.js';
import { readRouteTable } from '../config/routes.js';
import { printUserError } from './printUserError.js';
import { runReplay } from './replayCmd.js';
import { tcpdumpArgs } from './tcpdumpArgs.js';
import { runLive } from './liveCmd.js';
import { serve } from '../service/serve.js';
import { serveConfig } from '../service/serveConfig.js';
import { Session } from '../service/session.js';
import { verifyObject, verifyText } from './verifyCmd.js';

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
  const out = {
    json,
    pretty,
    pinned,
    out: (t: string) => process.stdout.write(t + '\n'),
    err: (t: string) => process.stderr.write(t + '\n'),
  };
  if (rest[0] === 'net')
    try {
      return await runNetCommand(stateDir(bpffs), rest.slice(1), out);
    } catch (e) {
      if (!printUserError(e, out)) throw e;
      return 255;
    }
  let session: Session | undefined;
  try {
    const set = Object.fromEntries(sets.map(parseSet));
    session = new Session({ bpffs, routes: routes === undefined ? undefined : readRouteTable(routes), engine }).begin();
    return rest[0] === 'map' ? await runMapCommand(session, rest.slice(1), out) : await runProgCommand(session, rest.slice(1), out, set);
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
    if (!printUserError(e, { json, out: (t) => console.log(t), err: (t) => console.error(t) })) throw e;
    process.exitCode = 1;
  }
}

// a reader that closed the pipe (`| head`) is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const raw = tcpdumpArgs(hideBin(process.argv));
const code = await bpftoolStyle(raw);
if (code !== undefined) {
  process.exitCode = code;
} else {
  await yargs(raw)
    .scriptName('bpfbox')
    .command(
      'conformance <dir>',
      'run every .data vector of an eBPF conformance directory (or one .data file)',
      (y) =>
        y
          .positional('dir', { type: 'string', demandOption: true, describe: 'directory of .data files' })
          .option('engine', { choices: ENGINES, describe: 'default: jit, or the interpreter with --trace (it alone follows instructions)' })
          .option('json', { alias: 'j', type: 'boolean', default: false })
          .option('trace', { type: 'boolean', default: false, describe: 'print each executed instruction and the registers it changed' }),
      (argv) => {
        const trace = argv.trace ? (line: string) => console.log(line) : undefined;
        if (trace && argv.engine === 'jit') {
          console.error('Error: conformance: --trace follows instructions in the interpreter only (--engine interpreter)');
          process.exitCode = 2;
          return;
        }
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
          .option('workers', { type: 'number', describe: 'worker threads = emulated CPUs (default: the number of cores)' })
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
          .option('json', { alias: 'j', type: 'boolean', default: false, describe: 'print the summary as JSON' }),
      async (argv) => {
        await reportErrors(argv.json, () =>
          runReplay({
            captures: (argv.captures as string[] | undefined) ?? [],
            config: argv.config,
            configProgram: argv['config-program'],
            obj: argv.obj,
            prog: argv.prog,
            type: argv.type,
            workers: argv.workers,
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
          .option('workers', { type: 'number', describe: 'worker threads = emulated CPUs (default: the number of cores)' })
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
        await reportErrors(argv.json, () =>
          runLive({
            dev: argv.dev as string[],
            peer: argv.peer as string[],
            obj: argv.obj,
            prog: argv.prog,
            type: argv.type,
            workers: argv.workers,
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
          .option('flush-ms', { type: 'number', default: 1000 }),
      async (argv) => {
        const log = (l: string) => console.error(l);
        let stop: () => Promise<void>;
        if (argv.config) {
          let running;
          try {
            running = await serveConfig({
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
          const s = await serve({ bpffs: argv.bpffs, flushEveryMs: argv['flush-ms'], log });
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
          .option('json', { alias: 'j', type: 'boolean', default: false }),
      async (argv) => {
        await reportErrors(argv.json, async () => {
          const set = Object.fromEntries((argv.set ?? []).map(parseSet));
          const outcomes = verifyObject({ obj: argv.obj, prog: argv.prog, type: argv.type, logLevel: argv['log-level'], set });
          console.log(argv.json ? JSON.stringify(outcomes) : verifyText(outcomes));
          process.exitCode = outcomes.every((v) => v.accepted) ? 0 : 1;
        });
      },
    )
    .command(
      'net',
      "bpftool's net commands, on a running serve --config: show [dev IF], attach xdp|tc PROG dev IF [peer IF2], detach xdp|tc dev IF",
    )
    .command('map', "bpftool's map commands: show, dump, lookup, update, delete, getnext, pin, freeze, create, push, pop, peek")
    .command(
      'prog',
      "bpftool's prog commands: load OBJ PATH [type T] [pinmaps DIR] [--set VAR=VALUE], loadall, show, dump xlated [linum], pin",
    )
    .demandCommand(1)
    .strict()
    .help()
    .parseAsync();
}
