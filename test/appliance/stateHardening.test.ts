// Issue 22, items 1-5 and 7: the state directory and the control socket against a careless
// umask, a second local user, planted links, stale locks and bad names. Expectations are
// independent of the code: modes read back with stat, errno values as the kernel's, bytes an
// attacker's process actually received.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilePinStore } from '../../appliance/bpffs/filePinStore.js';
import { holderAlive, parseHolder, procStartTime } from '../../appliance/bpffs/stateLock.js';
import { type OwnerHandlers, type Reply, call, serveControl } from '../../appliance/service/control.js';
import { peerCredAvailable } from '../../appliance/service/peer.js';
import { BpfErrno, Errno } from '../../uapi/errno.js';
import { Kernel } from '../../kernel/kernel.js';
import { MapType } from '../../uapi/mapType.js';
import { CLI } from './cliSupport.js';

const mode = (p: string) => statSync(p).mode & 0o777;
const isRoot = process.geteuid?.() === 0;

/** A "process" over a state directory, as each bpfbox process has (test/appliance/pins.test.ts). */
function proc(dir: string): { k: Kernel; store: FilePinStore } {
  const store = new FilePinStore(dir);
  const k = new Kernel({ pins: store, allocId: store.allocId, onWrite: (o) => store.touched(o), ncpus: 2 });
  store.attach(k);
  return { k, store };
}

function newMap(k: Kernel): number {
  return k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 4, map_name: 'm' });
}

/** A parent anyone may traverse (0755), so that only bpfbox's own modes stand between another user and the state. */
function openParent(): string {
  const p = mkdtempSync(join(tmpdir(), 'bpfbox-harden-'));
  chmodSync(p, 0o755);
  return p;
}

const handlers: OwnerHandlers = {
  list: async () => [],
  open: () => {
    throw new BpfErrno(Errno.ENOENT, 'no such map');
  },
  after: () => undefined,
};

/** ask: one raw request line on a connected socket; resolves with the first reply line, or null when the server closed first. */
function ask(c: Socket, line: string): Promise<Reply | null> {
  return new Promise((ok) => {
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) ok(JSON.parse(buf.slice(0, buf.indexOf('\n'))) as Reply);
    });
    c.on('close', () => ok(buf.includes('\n') ? (JSON.parse(buf.slice(0, buf.indexOf('\n'))) as Reply) : null));
    c.on('error', () => undefined);
    if (line) c.write(line);
  });
}

const connect = (path: string) =>
  new Promise<Socket>((ok, no) => {
    const c = createConnection(path, () => ok(c));
    c.once('error', no);
  });

describe('state directory and control socket: owner-only, whatever the umask', function () {
  this.timeout(60_000);
  let saved: number;
  before(() => {
    saved = process.umask(0);
  });
  after(() => {
    process.umask(saved);
  });

  it('under umask 000: the state directory, its directories and .run are 0700; pins, .next_id and the socket 0600', async () => {
    const state = join(openParent(), 'state');
    const { k, store } = proc(state);
    store.mkdir('/sys/fs/bpf/dir');
    const fd = newMap(k);
    assert.equal(k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/dir/m', bpf_fd: fd }), 0);
    const { server, socket } = serveControl(state, handlers, { log: () => undefined });
    await new Promise((ok) => server.once('listening', ok));
    try {
      assert.equal(mode(state), 0o700, 'state directory');
      assert.equal(mode(join(state, 'dir')), 0o700, 'a bpffs directory');
      assert.equal(mode(join(state, 'dir', 'm')), 0o600, 'a pin');
      assert.equal(mode(join(state, '.next_id')), 0o600, '.next_id');
      assert.equal(mode(join(state, '.run')), 0o700, '.run');
      assert.ok(statSync(socket).isSocket());
      assert.equal(mode(socket), 0o600, 'the control socket');
    } finally {
      server.close();
    }
  });

  it('under umask 000: a .run left 0777 by an older bpfbox is made 0700 again when an owner starts', async () => {
    const state = join(openParent(), 'state');
    mkdirSync(join(state, '.run'), { recursive: true });
    chmodSync(join(state, '.run'), 0o777);
    const { server } = serveControl(state, handlers, { log: () => undefined });
    await new Promise((ok) => server.once('listening', ok));
    server.close();
    assert.equal(mode(join(state, '.run')), 0o700);
  });

  it('under umask 000: the CLI makes a new state directory 0700 and its pin 0600', () => {
    const state = join(openParent(), 'state');
    const r = spawnSync(
      process.execPath,
      [CLI, '--bpffs', state, 'map', 'create', '/sys/fs/bpf/m', 'type', 'array', 'key', '4', 'value', '4', 'entries', '4', 'name', 'm'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(mode(state), 0o700);
    assert.equal(mode(join(state, 'm')), 0o600);
  });
});

describe('pin names: checked as bpffs would, and against bpfbox reserved names', () => {
  const state = join(openParent(), 'state');
  const { k, store } = proc(state);
  const fd = newMap(k);
  const pin = (name: string) => k.bpf('BPF_OBJ_PIN', { pathname: `/sys/fs/bpf/${name}`, bpf_fd: fd });
  const TABLE: [string, number][] = [
    ['.run', -Errno.EPERM],
    ['.lock', -Errno.EPERM],
    ['.x', -Errno.EPERM],
    ['x.tmp-1-abc', -Errno.EPERM],
    ['a\nb', -Errno.EINVAL],
    ['a'.repeat(256), -36], // ENAMETOOLONG: NAME_MAX is 255
    ['a'.repeat(255), 0],
    ['ok-name', 0],
  ];
  for (const [name, want] of TABLE)
    it(`pinning ${JSON.stringify(name.length > 20 ? `${name.slice(0, 3)}…(${name.length})` : name)} returns ${want}`, () => {
      assert.equal(pin(name), want);
    });

  it('every pin that was accepted is listed, and nothing that was refused was created', () => {
    assert.deepEqual(readdirSync(state).sort(), ['.next_id', 'a'.repeat(255), 'ok-name'].sort());
    assert.deepEqual(store.list('/sys/fs/bpf'), ['a'.repeat(255), 'ok-name'].sort());
  });

  it('a refused name is one line naming the path', () => {
    assert.throws(
      () => store.mkdir('/sys/fs/bpf/.run'),
      (e: unknown) => e instanceof BpfErrno && e.errno === Errno.EPERM && /\.run/.test(e.message) && !e.message.includes('\n'),
    );
    assert.throws(
      () => store.mkdir('/sys/fs/bpf/a\nb'),
      (e: unknown) => e instanceof BpfErrno && e.errno === Errno.EINVAL && !e.message.includes('\n'),
    );
  });

  it('the CLI answers a 300-character name with one line, no stack', () => {
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        '--bpffs',
        state,
        'map',
        'create',
        `/sys/fs/bpf/${'b'.repeat(300)}`,
        'type',
        'array',
        'key',
        '4',
        'value',
        '4',
        'entries',
        '4',
        'name',
        'm',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /NAME_MAX|ENAMETOOLONG|too long/);
  });
});

describe('links inside the state directory are never followed', () => {
  it('pinning through a symlinked directory is ELOOP and writes nothing outside', () => {
    const state = join(openParent(), 'state');
    const outside = mkdtempSync(join(tmpdir(), 'bpfbox-outside-'));
    const { k, store } = proc(state);
    symlinkSync(outside, join(state, 'sub'));
    const fd = newMap(k);
    assert.equal(k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/sub/m', bpf_fd: fd }), -Errno.ELOOP);
    assert.throws(
      () => store.mkdirs('/sys/fs/bpf/sub/deeper'),
      (e: unknown) => e instanceof BpfErrno && e.errno === Errno.ELOOP,
    );
    assert.throws(
      () => store.mkdir('/sys/fs/bpf/sub/d'),
      (e: unknown) => e instanceof BpfErrno && e.errno === Errno.ELOOP,
    );
    assert.deepEqual(readdirSync(outside), [], 'nothing was written outside the state directory');
  });

  it('a pin symlinked to a file outside is an error naming it, and none of its bytes come back', () => {
    const state = join(openParent(), 'state');
    const secret = join(mkdtempSync(join(tmpdir(), 'bpfbox-outside-')), 'shadow');
    writeFileSync(secret, '{"bpfbox":1,"kind":"map","secret":"root:$6$hash"}');
    const { k, store } = proc(state);
    symlinkSync(secret, join(state, 'p'));
    assert.throws(
      () => store.read('/sys/fs/bpf/p'),
      (e: unknown) => e instanceof BpfErrno && e.errno === Errno.ELOOP && e.message.includes(secret) && !e.message.includes('root:'),
    );
    assert.equal(k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/p' }), -Errno.ELOOP);
    // listed as what it is, so that `map show` reports it rather than skipping it silently
    assert.deepEqual(store.walk(), ['/sys/fs/bpf/p']);
  });
});

describe('what killed writers leave', () => {
  it("sweepTemp removes a dead writer's temporary files in every directory, and leaves a live one's", async () => {
    const state = join(openParent(), 'state');
    const { store } = proc(state);
    const dead = spawnSync('true').pid!; // a pid that has exited
    const live = spawn('sleep', ['30']);
    try {
      await new Promise((ok) => live.once('spawn', ok));
      mkdirSync(join(state, '.held'), { mode: 0o700 });
      for (const f of [`.tmp-${dead}-a`, `m.tmp-${dead}-b`, `.held/.tmp-${dead}-c`, `.tmp-${live.pid}-d`])
        writeFileSync(join(state, f), 'x');
      assert.equal(store.sweepTemp(), 3);
      assert.deepEqual(
        readdirSync(state).filter((n) => n.includes('.tmp-')),
        [`.tmp-${live.pid}-d`],
      );
      assert.deepEqual(readdirSync(join(state, '.held')), []);
    } finally {
      live.kill();
    }
  });
});

describe('the state lock', function () {
  this.timeout(60_000);
  const lockOf = (state: string) => join(state, '.lock');

  it('an empty .lock (a kill between create and write) is broken', () => {
    const state = join(openParent(), 'state');
    const { store } = proc(state);
    writeFileSync(lockOf(state), '');
    assert.equal(store.allocId(), 1);
    assert.equal(existsSync(lockOf(state)), false, 'released after use');
  });

  it('a lock naming a live unrelated pid (pid 1) without its start time, or with another, is broken', () => {
    const state = join(openParent(), 'state');
    const { store } = proc(state);
    writeFileSync(lockOf(state), '1');
    assert.equal(store.allocId(), 1);
    writeFileSync(lockOf(state), '1 1\n');
    assert.equal(procStartTime(1) === '1', false, 'pid 1 did not start at tick 1 (else pick another)');
    assert.equal(store.allocId(), 2);
  });

  it('holderAlive: a running process with its own start time is alive; with another, or gone, it is not', async () => {
    const child = spawn('sleep', ['30']);
    try {
      await new Promise((ok) => child.once('spawn', ok));
      const start = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
      assert.equal(holderAlive(parseHolder(`${child.pid} ${start}\n`)), true);
      assert.equal(holderAlive(parseHolder(`${child.pid} ${Number(start) + 1}\n`)), false);
      assert.equal(holderAlive(parseHolder(`${child.pid}`)), false);
      assert.equal(holderAlive(parseHolder('')), false);
    } finally {
      child.kill();
    }
  });

  it('a lock held by a live process is EBUSY after the wait, one line naming the directory and the holder', async () => {
    const child = spawn('sleep', ['60']);
    try {
      await new Promise((ok) => child.once('spawn', ok));
      const state = join(openParent(), 'state');
      const { store } = proc(state);
      writeFileSync(lockOf(state), `${child.pid} ${procStartTime(child.pid!)}\n`);
      assert.throws(
        () => store.allocId(),
        (e: unknown) => e instanceof Error && /EBUSY/.test(e.message) && e.message.includes(state) && e.message.includes(String(child.pid)),
      );
      assert.equal(readFileSync(lockOf(state), 'utf8').startsWith(`${child.pid} `), true, "the live holder's lock is left alone");
    } finally {
      child.kill();
    }
  });

  it('--bpffs /proc: one line naming the directory, at once (no spin)', () => {
    const r = spawnSync(
      process.execPath,
      [CLI, '--bpffs', '/proc', 'map', 'create', '/sys/fs/bpf/m', 'type', 'array', 'key', '4', 'value', '4', 'entries', '4', 'name', 'm'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.signal, null, 'ended by itself');
    assert.notEqual(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /cannot take the lock in the state directory \/proc/);
  });
});

describe('control socket limits', function () {
  this.timeout(60_000);
  let server: Server;
  let socket: string;
  const logged: string[] = [];
  before(async () => {
    const state = join(openParent(), 'state');
    ({ server, socket } = serveControl(state, handlers, {
      maxRequestBytes: 4096,
      maxConnections: 3,
      idleMs: 300,
      log: (l) => logged.push(l),
    }));
    await new Promise((ok) => server.once('listening', ok));
  });
  after(() => server.close());

  it('a request line over the limit is E2BIG and the connection closes', async () => {
    const c = await connect(socket);
    const r = ask(c, '');
    for (let i = 0; i < 20 && !c.destroyed; i++) c.write('x'.repeat(1000));
    assert.deepEqual(await r, { errno: Errno.E2BIG, message: 'E2BIG: a request is at most 4096 bytes' });
    assert.ok(logged.some((l) => l.includes('E2BIG')));
  });

  it('a request split over many chunks is still answered', async () => {
    const c = await connect(socket);
    const r = ask(c, '');
    for (const ch of '{"op":"list"}\n') c.write(ch);
    assert.deepEqual(await r, { ok: [] });
    c.destroy();
  });

  it('connections beyond the limit are closed at once; those within are answered', async () => {
    const cs = await Promise.all([0, 1, 2].map(() => connect(socket)));
    await new Promise((ok) => setTimeout(ok, 50)); // let the server count them before the next ones
    const extra = await Promise.all([0, 1].map(() => connect(socket)));
    assert.deepEqual(await Promise.all(extra.map((c) => ask(c, '{"op":"list"}\n'))), [null, null]);
    assert.deepEqual(await Promise.all(cs.map((c) => ask(c, '{"op":"list"}\n'))), [{ ok: [] }, { ok: [] }, { ok: [] }]);
    for (const c of cs) c.destroy();
    assert.ok(logged.some((l) => /3 connections open/.test(l)));
  });

  it('an idle connection is closed by the server', async () => {
    await new Promise((ok) => setTimeout(ok, 50)); // the previous test's connections are gone
    const c = await connect(socket);
    assert.equal(await ask(c, ''), null);
  });
});

/** serveChild: `bpfbox serve` on `state` (its argv prefixed by `wrap`), resolved once it listens. */
function serveChild(state: string, wrap: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ p: ChildProcess; err: () => string }> {
  return new Promise((ok, no) => {
    const argv = [...wrap, process.execPath, CLI, '--bpffs', state, 'serve', '--flush-ms', '100'];
    const p = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.setEncoding('utf8');
    p.stderr!.on('data', (d: string) => {
      err += d;
      if (err.includes('listening on')) ok({ p, err: () => err });
    });
    p.on('exit', (code) => no(new Error(`serve exited with ${code}: ${err}`)));
  });
}

describe('serve: out of file descriptors, and without the native module', function () {
  this.timeout(60_000);

  it('with 40 fds and 100 clients connecting, serve stays up (accept and flush errors logged) and answers afterwards', async () => {
    const state = join(openParent(), 'state');
    const mk = spawnSync(
      process.execPath,
      [CLI, '--bpffs', state, 'map', 'create', '/sys/fs/bpf/m', 'type', 'array', 'key', '4', 'value', '4', 'entries', '4', 'name', 'm'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(mk.status, 0, mk.stderr);
    const { p, err } = await serveChild(state, ['prlimit', '--nofile=40']);
    const exited = new Promise((ok) => p.once('exit', ok));
    try {
      const sock = join(state, '.run', `${p.pid}.sock`);
      const cs: Socket[] = [];
      const settled: Promise<void>[] = [];
      for (let i = 0; i < 100; i++) {
        const c = createConnection(sock);
        c.on('error', () => undefined);
        cs.push(c);
        settled.push(new Promise((ok) => (c.once('connect', () => ok()), c.once('close', () => ok()))));
      }
      await Promise.all(settled);
      await new Promise((ok) => setTimeout(ok, 500)); // flushes run (every 100 ms) while the fds are gone
      for (const c of cs) c.destroy();
      assert.equal(p.exitCode, null, `serve is still running: ${err()}`);
      const up = spawnSync(
        process.execPath,
        [CLI, '--bpffs', state, 'map', 'update', 'pinned', '/sys/fs/bpf/m', 'key', '0', '0', '0', '0', 'value', '7', '0', '0', '0'],
        {
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      assert.equal(up.status, 0, up.stderr);
      assert.equal(p.exitCode, null, `serve is still running: ${err()}`);
      assert.doesNotMatch(err(), /\n\s+at /, 'no stack trace');
    } finally {
      p.kill('SIGTERM');
      await exited;
    }
  });

  it('without the native module (BPFBOX_NO_PEERCRED=1), serve listens owner-only, and refuses a control group it could not check', async () => {
    const state = join(openParent(), 'state');
    const { p } = await serveChild(state, [], { BPFBOX_NO_PEERCRED: '1' });
    const exited = new Promise((ok) => p.once('exit', ok));
    assert.equal(mode(join(state, '.run')), 0o700);
    assert.equal(mode(join(state, '.run', `${p.pid}.sock`)), 0o600);
    p.kill('SIGTERM');
    await exited;
    const r = spawnSync(process.execPath, [CLI, '--bpffs', state, 'serve'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, BPFBOX_NO_PEERCRED: '1', BPFBOX_CONTROL_GROUP: '0' },
    });
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /control group 0: peers cannot be checked without the native module/);
  });
});

describe('client: it checks the socket and its listener before sending a byte', () => {
  it('a socket named for pid 1 whose listener is another process is refused (SO_PEERCRED)', async function () {
    if (!peerCredAvailable()) {
      console.log('    (skipped: the native module is not built, so the listener pid cannot be read; only the owner checks apply)');
      this.skip();
    }
    const state = join(openParent(), 'state');
    mkdirSync(join(state, '.run'), { recursive: true, mode: 0o700 });
    const got: string[] = [];
    const fake = createServer((c) => c.on('data', (d) => got.push(String(d)))).listen(join(state, '.run', '1.sock'));
    await new Promise((ok) => fake.once('listening', ok));
    try {
      await assert.rejects(call(join(state, '.run', '1.sock'), { op: 'list' }), new RegExp(`listener is pid ${process.pid} `));
      assert.deepEqual(got, [], 'not a byte sent');
    } finally {
      fake.close();
    }
  });

  it('a socket in a .run others may write to is refused', async () => {
    const state = join(openParent(), 'state');
    mkdirSync(join(state, '.run'), { recursive: true });
    chmodSync(join(state, '.run'), 0o777);
    const fake = createServer().listen(join(state, '.run', `${process.ppid}.sock`));
    await new Promise((ok) => fake.once('listening', ok));
    try {
      await assert.rejects(call(join(state, '.run', `${process.ppid}.sock`), { op: 'list' }), /may be written by others/);
    } finally {
      fake.close();
    }
  });
});

describe('a second local user', function () {
  this.timeout(120_000);
  const user = `bpfbox-t-${process.pid}`;
  let uid = 0;
  let gid = 0;
  const children: ChildProcess[] = [];
  before(function () {
    if (!isRoot) {
      console.log('    (skipped: not root, so no second user can be created)');
      this.skip();
    }
    execFileSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', user]);
    uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }));
    gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }));
  });
  after(() => {
    for (const c of children) c.kill('SIGKILL');
    if (uid) spawnSync('userdel', [user]);
  });

  /** asUser runs a CommonJS script as the second user (asynchronously: the server under test runs in this process) and returns what it printed (JSON). */
  async function asUser(script: string, ...args: string[]): Promise<unknown> {
    const child = spawn(process.execPath, ['-e', script, ...args], { uid, gid, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise((ok) => child.once('exit', ok));
    clearTimeout(timer);
    assert.equal(code, 0, err);
    return JSON.parse(out);
  }

  const ATTEMPTS = `
    const fs = require('fs'), net = require('net');
    const [state, socket, pin] = process.argv.slice(1);
    const code = (f) => { try { f(); return 'done'; } catch (e) { return e.code; } };
    const out = {
      readPin: code(() => fs.readFileSync(pin)),
      writePin: code(() => fs.writeFileSync(pin, 'x')),
      newPin: code(() => fs.writeFileSync(state + '/evil', 'x')),
      listRun: code(() => fs.readdirSync(state + '/.run')),
      bindRun: 'pending', connect: 'pending', reply: null,
    };
    const b = net.createServer().listen(state + '/.run/1.sock');
    b.on('error', (e) => { out.bindRun = e.code; next(); });
    b.on('listening', () => { out.bindRun = 'done'; b.close(); next(); });
    function next() {
      const c = net.createConnection(socket);
      let buf = '';
      c.on('connect', () => { out.connect = 'done'; c.write('{"op":"list"}\\n'); });
      c.on('data', (d) => { buf += d; });
      c.on('error', (e) => { out.connect = e.code; });
      c.on('close', () => { out.reply = buf ? JSON.parse(buf.split('\\n')[0]) : null; console.log(JSON.stringify(out)); });
    }`;

  it('with the state directory 0755 (shared): every attempt on pins, .run and the socket is EACCES', async () => {
    const state = join(openParent(), 'state');
    const { k } = proc(state);
    assert.equal(k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/m', bpf_fd: newMap(k) }), 0);
    chmodSync(state, 0o755); // the user opened the state directory itself: bpfbox's inner modes still hold
    chmodSync(join(state, 'm'), 0o600);
    const { server, socket } = serveControl(state, handlers, { log: () => undefined });
    await new Promise((ok) => server.once('listening', ok));
    try {
      const out = await asUser(ATTEMPTS, state, socket, join(state, 'm'));
      assert.deepEqual(out, {
        readPin: 'EACCES',
        writePin: 'EACCES',
        newPin: 'EACCES',
        listRun: 'EACCES',
        bindRun: 'EACCES',
        connect: 'EACCES',
        reply: null,
      });
    } finally {
      server.close();
    }
  });

  it('with .run and the socket opened to everyone: the server refuses the peer with EACCES, and logs it', async function () {
    if (!peerCredAvailable()) {
      console.log('    (skipped: without the native module the modes are the only check, shown by the test before)');
      this.skip();
    }
    const state = join(openParent(), 'state');
    proc(state);
    const logged: string[] = [];
    const { server, socket } = serveControl(state, handlers, { log: (l) => logged.push(l) });
    await new Promise((ok) => server.once('listening', ok));
    try {
      chmodSync(state, 0o755);
      chmodSync(join(state, '.run'), 0o755);
      chmodSync(socket, 0o666);
      const out = (await asUser(ATTEMPTS, state, socket, join(state, 'none'))) as { connect: string; reply: Reply | null };
      assert.equal(out.connect, 'done', 'the modes let it connect: the peer check is what refuses');
      assert.deepEqual(out.reply && 'errno' in out.reply ? out.reply.errno : out.reply, Errno.EACCES);
      assert.ok(
        logged.some((l) => l.includes(`uid ${uid} `) && l.includes('EACCES')),
        logged.join('\n'),
      );
    } finally {
      server.close();
    }
  });

  it("a .run/1.sock another user bound in a world-writable state directory never receives root's request", async () => {
    const state = join(openParent(), 'state');
    mkdirSync(state, { recursive: true });
    chmodSync(state, 0o777);
    const LISTEN = `
      const fs = require('fs'), net = require('net');
      const state = process.argv[1];
      fs.mkdirSync(state + '/.run', { mode: 0o700 });
      let got = '';
      const s = net.createServer((c) => c.on('data', (d) => { got += d; c.write('{"ok":"pwned"}\\n'); })).listen(state + '/.run/1.sock');
      s.on('listening', () => console.log('ready'));
      process.on('SIGTERM', () => { console.log(JSON.stringify(got)); process.exit(0); });`;
    const child = spawn(process.execPath, ['-e', LISTEN, state], { uid, gid, cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let out = '';
    child.stdout!.setEncoding('utf8');
    await new Promise<void>((ok) =>
      child.stdout!.on('data', (d: string) => {
        out += d;
        if (out.includes('ready')) ok();
      }),
    );
    await assert.rejects(call(join(state, '.run', '1.sock'), { op: 'list' }), /not talking to it: .*belongs to uid/);
    const exited = new Promise((ok) => child.once('exit', ok));
    child.kill('SIGTERM');
    await exited;
    assert.equal(out.trim().split('\n').pop(), '""', 'the other user received no byte');
  });
});

after(() => {
  for (const d of readdirSync(tmpdir()))
    if (/^bpfbox-(harden|outside)-/.test(d)) rmSync(join(tmpdir(), d), { recursive: true, force: true });
});
