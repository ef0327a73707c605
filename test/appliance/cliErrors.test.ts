import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printUserError } from '../../appliance/cli/printUserError.js';
import { UsageError } from '../../appliance/cli/usageError.js';
import { ConfigError } from '../../appliance/config/config.js';
import { SetError } from '../../appliance/config/parseSet.js';
import { RouteTableError } from '../../appliance/config/routes.js';
import { ReplayLoadError } from '../../appliance/datapath/load.js';
import { MapInitError } from '../../appliance/datapath/mapInit.js';
import { DecoderError } from '../../appliance/service/metrics/decoders.js';
import { MapMetricError } from '../../appliance/service/metrics/mapMetrics.js';
import { ElfError } from '../../elf/elfError.js';
import { CollectionLoadError } from '../../kernel/loadCollection.js';
import { CaptureError } from '../../pcaps/record.js';
import { BpfErrno, Errno } from '../../uapi/errno.js';
import { UserError } from '../../uapi/userError.js';
import { OperandError } from '../../vm/asm/operands.js';
import { VectorError } from '../../vm/conformance/vector.js';
import { DslError } from '../../vm/dsl.js';
import { AssemblyError, BpfError, DecodeError, InstructionError, LoadError, MemoryFault, RuntimeError } from '../../vm/errors.js';
import { JitError } from '../../vm/jit/compile.js';
import { Refused, Unsupported } from '../../vm/verifier/refuse.js';
import { REPO_ROOT } from '../support/paths.js';
import { CLI, bpfbox, tempState } from './cliSupport.js';

const STATS = join(REPO_ROOT, 'bpf', 'xdp_stats.o');
const SAMPLE = join(REPO_ROOT, 'pcaps', 'sample.pcap');

/** A stack frame as Node prints one (`    at f (file:…)`). */
const FRAME = /^\s+at /m;

/** oneLine: the error a user error prints, `Error: …` and nothing else (no stack). */
function oneLine(r: { err: string; code: number }, code: number, re: RegExp): void {
  assert.equal(r.code, code, r.err);
  assert.doesNotMatch(r.err, FRAME, 'a user error prints no stack');
  const lines = r.err.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.err}`);
  assert.match(lines[0], /^Error: /);
  assert.match(lines[0], re);
}

describe('the user-error tree', () => {
  it('every error bad input causes is a UserError, one from each room', () => {
    const insn = new InstructionError(3, 'invalid src register r11');
    const user: [string, UserError][] = [
      ['uapi', new BpfErrno(Errno.EEXIST)],
      ['vm', new DecodeError(0, 'truncated')],
      ['vm', insn],
      ['vm', new LoadError(insn)],
      ['vm', new AssemblyError(2, 'invalid register', { cause: new OperandError("invalid register 'r11'") })],
      ['vm', new OperandError("invalid number 'x'")],
      ['vm', new DslError('label l defined twice')],
      ['vm', new VectorError('e.data: no program')],
      ['vm', new Refused(Errno.EACCES, 'R0 !read_ok')],
      ['vm', new Unsupported('bpf_loop')],
      ['pcaps', new CaptureError('a.pcap', 24, 'record 0: cut off')],
      ['elf', new ElfError('file of 3 bytes is shorter than an ELF header', { offset: 0 })],
      ['kernel', new CollectionLoadError('map m', Errno.EINVAL)],
      ['appliance/config', new ConfigError('c.yaml:1:1: bad')],
      ['appliance/config', new RouteTableError('r.json: routes[0].mtu: bad', { file: 'r.json', field: 'routes[0].mtu' })],
      ['appliance/config', new SetError('--set x: expected VAR=VALUE')],
      ['appliance/datapath', new MapInitError('i.json', 'bad')],
      ['appliance/datapath', new ReplayLoadError('x.o: no program named p')],
      ['appliance/service', new DecoderError('regexp needs regexps')],
      ['appliance/service', new MapMetricError('c.yaml: exporter.counters[0]: no map')],
      ['appliance/cli', new UsageError("unknown map command 'x'")],
    ];
    for (const [room, e] of user) {
      assert.ok(e instanceof UserError, `${room}: ${e.name} is a UserError`);
      assert.equal(e.name, e.constructor.name, 'the name is the class');
      const lines: string[] = [];
      assert.ok(printUserError(e, { json: false, out: (t) => lines.push(t), err: (t) => lines.push(t) }));
      assert.deepEqual(lines, [`Error: ${e.message}`]);
    }
    assert.ok(new BpfErrno(Errno.ENOENT) instanceof UserError && new DecodeError(0, 'x') instanceof BpfError);
  });

  it('structured fields and the cause say where, as the message does', () => {
    const c = new CaptureError('a.pcap', 24, 'record 0: cut off');
    assert.deepEqual([c.file, c.offset, c.message], ['a.pcap', 24, 'a.pcap: offset 24: record 0: cut off']);
    const e = new ElfError('BTF: bad magic', { section: '.BTF', offset: 4 });
    assert.deepEqual([e.field, e.offset, e.message], ['.BTF', 4, 'elf: section .BTF, offset 0x4: BTF: bad magic']);
    const insn = new InstructionError(3, 'bad');
    const l = new LoadError(insn);
    assert.deepEqual([l.index, l.cause], [3, insn]);
    const k = new CollectionLoadError('program p', Errno.EACCES, 'log\n');
    assert.ok(k.cause instanceof BpfErrno && k.cause.errno === Errno.EACCES);
    assert.equal(k.message, 'load program p: EACCES: Permission denied\nlog\n');
  });

  it("bugs are not user errors: a TypeError, a fault of a run, the JIT's own error", () => {
    for (const e of [
      new TypeError('x is undefined'),
      new RuntimeError(1, 'helper bpf_x#1 failed'),
      new MemoryFault(0, 0, 4, 'read'),
      new JitError(0, 'internal: no label'),
      'a string',
    ]) {
      assert.ok(!(e instanceof UserError));
      const lines: string[] = [];
      assert.equal(printUserError(e, { json: false, out: (t) => lines.push(t), err: (t) => lines.push(t) }), false);
      assert.deepEqual(lines, [], 'printUserError leaves a bug to its caller');
    }
  });
});

describe('bpfbox errors (CLI): a user error is one line, a bug keeps its stack', function () {
  this.timeout(60_000);
  let dir: string;
  const state = tempState();
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bpfbox-clierrors-'))));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  it('elf: an object file that is not one', () => {
    writeFileSync(join(dir, 'bad.o'), 'not an elf file');
    oneLine(bpfbox(state, 'verify', join(dir, 'bad.o')), 1, /^Error: elf: offset 0x0: file of 15 bytes is shorter than an ELF header$/);
    oneLine(bpfbox(state, 'prog', 'load', join(dir, 'bad.o'), '/sys/fs/bpf/bad'), 255, /^Error: elf: offset 0x0: file of 15 bytes/);
  });

  it('pcaps: a capture that is not one', () => {
    writeFileSync(join(dir, 'junk.pcap'), Buffer.from('0123456789abcdef'));
    oneLine(
      bpfbox(state, 'replay', join(dir, 'junk.pcap'), '--obj', STATS),
      1,
      /junk\.pcap: offset 0: magic 0x30313233 is neither pcap's nor pcapng's$/,
    );
  });

  it('appliance/config: a config that does not parse, a --set that does not, a route table', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'programs: [\n  {name: 1');
    oneLine(bpfbox(state, 'replay', '--config', join(dir, 'bad.yaml')), 1, /bad\.yaml:2:\d+: /);
    oneLine(bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--set', 'bad'), 1, /^Error: --set bad: expected VAR=VALUE$/);
    oneLine(bpfbox(state, 'prog', 'show', '--set', 'bad'), 255, /^Error: --set bad: expected VAR=VALUE$/);
    const j = bpfbox(state, '-j', '--set', 'bad', 'prog', 'show');
    assert.equal(j.code, 255);
    assert.deepEqual(JSON.parse(j.out), { error: '--set bad: expected VAR=VALUE' });
    writeFileSync(join(dir, 'routes.json'), JSON.stringify({ routes: [{ dst: '10.0.0.0/8', ifindex: 1, mtu: 'x' }] }));
    oneLine(
      bpfbox(state, '--routes', join(dir, 'routes.json'), 'map', 'show'),
      255,
      /routes\.json: routes\[0\]\.mtu: "x" is not an integer/,
    );
  });

  it('appliance/datapath: a bad --map-init', () => {
    writeFileSync(join(dir, 'init.json'), JSON.stringify({ maps: { nosuch: [['00', '00']] } }));
    oneLine(
      bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--map-init', join(dir, 'init.json')),
      1,
      /init\.json: maps\.nosuch: no map named nosuch/,
    );
  });

  it('appliance/service: an exporter entry that names no map (serve --config)', () => {
    writeFileSync(
      join(dir, 'metric.yaml'),
      [
        'programs:',
        `  - {name: fw, obj: ${join(REPO_ROOT, 'bpf', 'lpm_firewall.o')}, prog: xdp_firewall}`,
        'exporter:',
        '  counters:',
        '    - {name: fw_total, help: h, map: nosuch, labels: [{name: l, size: 4}]}',
      ].join('\n'),
    );
    const r = spawnSync(process.execPath, [CLI, 'serve', '--config', join(dir, 'metric.yaml'), '--metrics-addr', '127.0.0.1:0'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, BPFBOX_BPFFS: state },
    });
    oneLine({ err: r.stderr, code: r.status ?? -1 }, 1, /metric\.yaml: exporter\.counters\[0\] \(fw_total\): program fw has no map nosuch/);
  });

  it('appliance/cli and the bpf() door: a verb no row has, an errno', () => {
    oneLine(bpfbox(state, 'map', 'nosuch'), 255, /^Error: unknown map command 'nosuch'$/);
    oneLine(bpfbox(state, 'prog', 'nosuch'), 255, /^Error: unknown prog command 'nosuch'$/);
    oneLine(bpfbox(state, 'prog'), 255, /^Error: expected a prog command$/);
    assert.equal(bpfbox(state, 'prog', 'load', STATS, '/sys/fs/bpf/twice').code, 0);
    oneLine(bpfbox(state, 'prog', 'load', STATS, '/sys/fs/bpf/twice'), 255, /^Error: EEXIST: pin \/sys\/fs\/bpf\/twice$/);
  });

  it('a bug (a TypeError thrown inside a command) prints its stack', () => {
    // a preload makes readFileSync throw a TypeError for one path: a bug inside the command
    const preload = join(dir, 'bug.mjs');
    writeFileSync(
      preload,
      [
        "import fs from 'node:fs';",
        "import { syncBuiltinESMExports } from 'node:module';",
        'const real = fs.readFileSync;',
        "fs.readFileSync = function (p, ...a) { if (p === '/bug/injected') throw new TypeError('injected bug'); return real.call(this, p, ...a); };",
        'syncBuiltinESMExports();',
      ].join('\n'),
    );
    const run = (...args: string[]) => {
      const r = spawnSync(process.execPath, ['--import', preload, CLI, ...args], {
        encoding: 'utf8',
        env: { ...process.env, BPFBOX_BPFFS: state, NODE_OPTIONS: '' },
      });
      return { err: r.stderr, code: r.status ?? -1 };
    };
    let r = run('verify', '/bug/injected');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /^bpfbox: internal error \(a bug in bpfbox, not in your input/m, 'marked as a bug');
    assert.match(r.err, /TypeError: injected bug\n\s+at /);
    assert.doesNotMatch(r.err, /^Error: injected bug/m);
    assert.match(r.err, /--enable-source-maps/, 'says how to get source lines');
    // the bundle's source maps lead back to the TypeScript: the command that read the file
    const mapped = spawnSync(process.execPath, ['--enable-source-maps', '--import', preload, CLI, 'verify', '/bug/injected'], {
      encoding: 'utf8',
      env: { ...process.env, BPFBOX_BPFFS: state, NODE_OPTIONS: '' },
    });
    assert.match(mapped.stderr, /TypeError: injected bug\n[^]*appliance\/cli\/verifyCmd\.ts:\d+/);
    assert.equal(bpfbox(state, 'prog', 'load', STATS, '/sys/fs/bpf/bug').code, 0);
    r = run('prog', 'run', 'pinned', '/sys/fs/bpf/bug', 'data_in', '/bug/injected');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /TypeError: injected bug\n\s+at /);
    assert.doesNotMatch(r.err, /^Error: injected bug/m);
  });
});

/** USAGE: text only a usage/help screen has (yargs' option table, bpftool's grammar). */
const USAGE = /^(Options:|Usage:|Commands:)|\[boolean\]|\[string\]/m;

/** everyday: a user error as the issue lists it: exit code, one `Error: ` line matching `re`, no stack, no usage. */
function everyday(r: { out?: string; err: string; code: number }, code: number, re: RegExp): void {
  oneLine(r, code, re);
  assert.doesNotMatch(r.err, USAGE, 'no usage for a command line that parsed');
  assert.equal(r.out ?? '', '', 'nothing on stdout');
}

describe('bpfbox errors (CLI): the everyday mistakes of issue 17, one line each', function () {
  this.timeout(60_000);
  let dir: string;
  const state = tempState();
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bpfbox-everyday-'))));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  it('a capture that does not exist (ENOENT)', () => {
    const nope = join(dir, 'nope.pcap');
    everyday(
      bpfbox(state, 'replay', nope, '--obj', STATS),
      1,
      new RegExp(`^Error: capture ${nope}: no such file or directory \\(expected a pcap or pcapng file\\)$`),
    );
  });

  it('a directory as a capture (EISDIR)', () => {
    everyday(
      bpfbox(state, 'replay', dir, '--obj', STATS),
      1,
      new RegExp(`^Error: capture ${dir}: is a directory \\(expected a pcap or pcapng file\\)$`),
    );
  });

  it('--out in a directory that does not exist, or --out-drop a directory', () => {
    everyday(
      bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--out', '/nodir/x.pcapng'),
      1,
      /^Error: --out \/nodir\/x\.pcapng: no such file or directory \(expected a file to create in an existing, writable directory\)$/,
    );
    everyday(
      bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--out-drop', dir),
      1,
      new RegExp(`^Error: --out-drop ${dir}: is a directory`),
    );
    everyday(
      bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--events', '/nodir/x.jsonl'),
      1,
      /^Error: --events \/nodir\/x\.jsonl: no such file or directory \(expected a file to create in an existing, writable directory\)$/,
    );
  });

  it('prog run … data_in nope.bin', () => {
    assert.equal(bpfbox(state, 'prog', 'load', STATS, '/sys/fs/bpf/run').code, 0);
    everyday(
      bpfbox(state, 'prog', 'run', 'pinned', '/sys/fs/bpf/run', 'data_in', join(dir, 'nope.bin')),
      255,
      /^Error: data_in \S+nope\.bin: no such file or directory \(expected a file of input bytes, or - for standard input\)$/,
    );
    writeFileSync(join(dir, 'in.bin'), Buffer.alloc(64));
    everyday(
      bpfbox(state, 'prog', 'run', 'pinned', '/sys/fs/bpf/run', 'data_in', join(dir, 'in.bin'), 'data_out', '/nodir/out.bin'),
      255,
      /^Error: data_out \/nodir\/out\.bin: no such file or directory \(expected a file to create in an existing, writable directory\)$/,
    );
    everyday(
      bpfbox(state, 'prog', 'run', 'pinned', '/sys/fs/bpf/run', 'data_in', join(dir, 'in.bin'), '--events', '/nodir/e.jsonl'),
      255,
      /^Error: --events \/nodir\/e\.jsonl: no such file or directory \(expected a file to create in an existing, writable directory\)$/,
    );
  });

  it('conformance DIR when the directory is missing (the README on a fresh clone)', () => {
    everyday(
      bpfbox(state, 'conformance', join(dir, 'shared', 'conformance', 'tests')),
      1,
      /^Error: conformance \S+\/shared\/conformance\/tests: no such file or directory \(expected a directory of \.data vectors/,
    );
  });

  it('verify /nonexistent.o', () => {
    everyday(
      bpfbox(state, 'verify', '/nonexistent.o'),
      1,
      /^Error: object \/nonexistent\.o: no such file or directory \(expected a clang-compiled BPF object \(\.o\)\)$/,
    );
  });

  it('a missing object or a directory as one: prog load, prog loadall, replay --obj, replay --json', () => {
    const nope = join(dir, 'x.o');
    const missing = (o: string) =>
      new RegExp(`^Error: object ${o}: no such file or directory \\(expected a clang-compiled BPF object \\(\\.o\\)\\)$`);
    const isDir = new RegExp(`^Error: object ${dir}: is a directory \\(expected a clang-compiled BPF object \\(\\.o\\)\\)$`);
    everyday(bpfbox(state, 'prog', 'load', nope, '/sys/fs/bpf/x'), 255, missing(nope));
    everyday(bpfbox(state, 'prog', 'loadall', nope, '/sys/fs/bpf/x'), 255, missing(nope));
    everyday(bpfbox(state, 'prog', 'load', dir, '/sys/fs/bpf/x'), 255, isDir);
    everyday(bpfbox(state, 'replay', SAMPLE, '--obj', nope), 1, missing(nope));
    everyday(bpfbox(state, 'replay', SAMPLE, '--obj', dir), 1, isDir);
    const j = bpfbox(state, 'replay', SAMPLE, '--obj', nope, '--json');
    assert.equal(j.code, 1);
    assert.deepEqual(JSON.parse(j.out), { error: `object ${nope}: no such file or directory (expected a clang-compiled BPF object (.o))` });
  });

  it('a missing --routes, --map-init or --config file, or a directory as a config', () => {
    const nope = join(dir, 'nope.json');
    everyday(
      bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--routes', nope),
      1,
      new RegExp(`^Error: route table ${nope}: no such file or directory \\(expected a JSON file of routes and neighbours\\)$`),
    );
    everyday(
      bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--map-init', nope),
      1,
      new RegExp(`^Error: map init ${nope}: no such file or directory \\(expected a JSON file of map entries\\)$`),
    );
    everyday(
      bpfbox(state, 'replay', '--config', join(dir, 'nope.yaml')),
      1,
      new RegExp(`^Error: config ${dir}/nope\\.yaml: no such file or directory \\(expected a YAML config\\)$`),
    );
    everyday(bpfbox(state, 'serve', '--config', dir), 1, new RegExp(`^Error: config ${dir}: is a directory \\(expected a YAML config\\)$`));
  });

  it('--workers abc, --workers 0, --workers 1.5 name --workers; --workers 1 runs', () => {
    for (const w of ['abc', '0', '1.5', '-2'])
      everyday(
        bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--workers', w),
        1,
        new RegExp(`^Error: --workers ${w.replace('.', '\\.')}: expected a number of worker threads, a whole number of at least 1$`),
      );
    const ok = bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--workers', '1', '--json');
    assert.equal(ok.code, 0, ok.err);
    assert.equal(JSON.parse(ok.out).per_cpu.length, 1);
  });

  it('more workers than the address space holds: one line naming --workers and how many fit (by hand: 1 GiB, 16 MiB each)', () => {
    // 1024 MiB less the kernel's maps and the two 8 MiB capture windows leaves room for fewer than 64 workers of 16 MiB
    const r = bpfbox(state, 'replay', SAMPLE, '--obj', STATS, '--workers', '64');
    everyday(r, 1, /^Error: --workers 64: each worker needs 16 MiB of the 1024 MiB address space: at most (\d+) workers fit$/);
    const fit = Number(/at most (\d+)/.exec(r.err)![1]);
    assert.ok(fit > 50 && fit < 64, `${fit}`);
  });

  it("a command line that does not parse prints that command's usage only, then one Error line", () => {
    const r = bpfbox(state, 'replay', '--bogus');
    assert.equal(r.code, 1);
    assert.match(r.err, /^bpfbox replay \[captures\.\.\]/, "replay's usage");
    assert.doesNotMatch(r.err, /bpfbox conformance|bpfbox serve/, 'not the other commands');
    assert.doesNotMatch(r.err, FRAME);
    assert.match(r.err.trimEnd().split('\n').at(-1)!, /^Error: Unknown argument: bogus$/);
    assert.equal(r.err.match(/^Error: /gm)?.length, 1, 'one error line');
  });
});

describe('bpfbox errors (CLI): serve --config refuses at start, and leaves no pins', function () {
  this.timeout(60_000);
  let dir: string;
  let state: string;
  const held = createServer();
  let port: number;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-serveerr-'));
    await new Promise<void>((ok) => held.listen(0, '127.0.0.1', () => ok()));
    port = (held.address() as AddressInfo).port;
  });
  beforeEach(() => (state = tempState()));
  afterEach(() => rmSync(state, { recursive: true, force: true }));
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await new Promise<void>((ok) => held.close(() => ok()));
  });

  const config = (capture: string) => {
    const f = join(dir, 'c.yaml');
    writeFileSync(
      f,
      [
        'programs:',
        `  - {name: st, obj: ${STATS}, pinmaps: /sys/fs/bpf/stmaps}`,
        'sources:',
        '  - program: st',
        '    mode: loop',
        `    captures: [${capture}]`,
      ].join('\n'),
    );
    return f;
  };
  const serve = (...args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, 'serve', ...args], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, BPFBOX_BPFFS: state },
    });
    return { out: r.stdout, err: r.stderr, code: r.status ?? -1 };
  };

  it('--metrics-addr nonsense', () => {
    everyday(
      serve('--config', config(SAMPLE), '--metrics-addr', 'nonsense'),
      1,
      /^Error: --metrics-addr nonsense: expected HOST:PORT with a port from 0 to 65535/,
    );
    everyday(
      serve('--config', config(SAMPLE), '--metrics-addr', '127.0.0.1:70000'),
      1,
      /^Error: --metrics-addr 127\.0\.0\.1:70000: expected HOST:PORT/,
    );
  });

  it('a misspelled capture path in the config: the file, the line, the field, the path', () => {
    const typo = join(REPO_ROOT, 'pcaps', 'sampel.pcap');
    const f = config(typo);
    everyday(
      serve('--config', f, '--metrics-addr', '127.0.0.1:0'),
      1,
      new RegExp(
        `^Error: ${f}:6:\\d+: sources\\[0\\]\\.captures\\[0\\]: ${typo}: no such file or directory \\(expected a pcap or pcapng file\\)$`,
      ),
    );
  });

  it('the metrics port in use (EADDRINUSE), and the pins the start made are gone again', async () => {
    everyday(
      serve('--config', config(SAMPLE), '--metrics-addr', `127.0.0.1:${port}`),
      1,
      new RegExp(`^Error: --metrics-addr 127\\.0\\.0\\.1:${port}: address already in use`),
    );
    assert.ok(!existsSync(join(state, 'stmaps')), `no pinmaps directory left: ${readdirSync(state).join(', ')}`);
    // the control: the same config on a free port pins the maps there (so the check above can fail)
    const p = spawn(process.execPath, [CLI, 'serve', '--config', config(SAMPLE), '--metrics-addr', '127.0.0.1:0'], {
      env: { ...process.env, BPFBOX_BPFFS: state },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      await new Promise<void>((ok, fail) => {
        let err = '';
        const t = setTimeout(() => fail(new Error(`serve did not start in 30 s: ${err}`)), 30_000);
        p.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          if (err.includes('metrics on')) (clearTimeout(t), ok());
        });
        p.on('exit', (c) => (clearTimeout(t), fail(new Error(`serve exited with ${c}: ${err}`))));
      });
      assert.ok(readdirSync(join(state, 'stmaps')).length > 0, 'a started serve pins the maps');
    } finally {
      p.kill('SIGTERM');
      await new Promise((ok) => (p.exitCode !== null ? ok(null) : p.once('exit', ok)));
    }
  });
});
