import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
        env: { ...process.env, BPFBOX_BPFFS: state },
      });
      return { err: r.stderr, code: r.status ?? -1 };
    };
    let r = run('verify', '/bug/injected');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /TypeError: injected bug\n\s+at /);
    assert.doesNotMatch(r.err, /^Error: injected bug/m);
    assert.equal(bpfbox(state, 'prog', 'load', STATS, '/sys/fs/bpf/bug').code, 0);
    r = run('prog', 'run', 'pinned', '/sys/fs/bpf/bug', 'data_in', '/bug/injected');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /TypeError: injected bug\n\s+at /);
    assert.doesNotMatch(r.err, /^Error: injected bug/m);
  });
});
