import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetShow } from '../../appliance/service/netRequest.js';
import { type Topology, stopChild, topologyForSuite } from '../support/topology.js';
import { CLI, LIVE_OBJ, liveUnavailable, readFrames, udpFrame, writePcap } from './liveSupport.js';

/** metric: the value of one sample of Prometheus text (0 when absent). */
function metric(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const l of m[2].matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g)) got[l[1]] = l[2];
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) total += Number(m[3]);
  }
  return total;
}

/** cli runs `bpfbox ARGS` here (the control socket is a file: the CLI needs no namespace) against `state`. */
function cli(state: string, ...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, BPFBOX_BPFFS: state },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * `serve --config` with an `interfaces:` section, end to end in namespaces of its own:
 * nsA(a0) - nsB(b0 | serve | b1) - nsC(c0). The service drops all (xdp_action, action=1);
 * frames from tcpreplay at a0 do not reach c0 and /metrics counts them; `net attach` swaps
 * in xdp_no_dns, after which c0 gets what `replay` of the same capture passes; `net detach`
 * stops forwarding and gives b0 and b1 their offloads back (`ethtool -k` as before).
 */
describe('bpfbox serve --config: live interfaces, /metrics and bpfbox net', function () {
  this.timeout(240_000);
  const topo = topologyForSuite('bpfbox serve (live)', 'sv', { tools: ['tcpreplay', 'tcpdump', 'ethtool'] });
  let dir: string;
  let state: string;
  let serve: ChildProcess | undefined;
  let url = '';
  let stderr = '';
  /** `ethtool -k` of b0 and b1 before serve started. */
  let offloadsBefore: { b0: string; b1: string } = { b0: '', b1: '' };
  const env = () => ({ ...process.env, BPFBOX_BPFFS: state, BPFBOX_RUN_DIR: join(dir, 'run') });
  before(function () {
    const why = liveUnavailable();
    if (why) {
      console.log(`  bpfbox serve (live): SKIPPED: ${why}`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-servelive-'));
    state = mkdtempSync(join(tmpdir(), 'bpfbox-servelive-state-'));
  });
  after(async () => {
    if (serve) await stopChild(serve, 'SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (state) rmSync(state, { recursive: true, force: true });
  });

  const NOWHERE = '10.77.0.99';
  const frames = Array.from({ length: 300 }, (_, i) =>
    udpFrame({ sport: 1000 + (i % 13), dport: i % 5 === 0 ? 53 : 2000 + (i % 7), payload: 18 + ((i * 37) % 400), id: i, dst: NOWHERE }),
  );
  const offloads = (t: Topology, dev: string) => t.exec(t.nsB, ['ethtool', '-k', dev]).stdout;
  /** scrape fetches /metrics from inside nsB, where serve listens. */
  const scrape = (t: Topology) =>
    t.exec(t.nsB, [process.execPath, '-e', `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((s) => process.stdout.write(s))`])
      .stdout;
  /** until scrapes until `done` says the counts are in (at most 100 scrapes), and gives the last scrape. */
  async function until(t: Topology, done: (text: string) => boolean): Promise<string> {
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = scrape(t);
      if (done(text)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return text;
  }
  /** send replays the frames out of a0 while c0 captures; `settled` says when the service has counted them all. */
  async function send(
    t: Topology,
    name: string,
    settled: (text: string) => boolean,
  ): Promise<{ c0: Buffer[]; text: string; pcap: string }> {
    const pcap = writePcap(join(dir, `${name}.pcap`), frames);
    const atC = await t.capture(t.nsC, 'c0', join(dir, `${name}-c0.pcap`), undefined, 'in');
    let text: string;
    try {
      t.exec(t.nsA, ['tcpreplay', '-q', '-i', 'a0', '--pps=4000', pcap], { timeoutMs: 120_000 });
      text = await until(t, settled);
      await new Promise((r) => setTimeout(r, 300)); // the last forwarded frames reach c0's tcpdump
    } finally {
      await atC.stop();
    }
    return { c0: readFrames(join(dir, `${name}-c0.pcap`)), text, pcap };
  }

  it('starts the configured bridge: DROP-all forwards nothing, /metrics counts every frame as dropped, net show lists it', async () => {
    const t = topo();
    offloadsBefore = { b0: offloads(t, 'b0'), b1: offloads(t, 'b1') };
    const config = join(dir, 'live.yaml');
    writeFileSync(
      config,
      `workers: 2
programs:
  - name: dropall
    obj: ${LIVE_OBJ}
    prog: xdp_action
    set: { action: 1 }
interfaces:
  - { name: b0, peer: b1, program: dropall, workers: 1 }
`,
    );
    serve = t.spawn(t.nsB, [process.execPath, CLI, 'serve', '--config', config, '--metrics-addr', '127.0.0.1:0'], { env: env() });
    serve.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start in 60 s: ${stderr}`)), 60_000);
      serve!.stderr!.on('data', () => {
        const m = /metrics on (\S+),/.exec(stderr);
        if (m) (clearTimeout(timer), resolve(m[1]));
      });
      serve!.once('exit', (code) => (clearTimeout(timer), reject(new Error(`serve exited (${code}): ${stderr}`))));
    });
    assert.notEqual(offloads(t, 'b0'), offloadsBefore.b0, 'offloads off while attached');

    const n = frames.length;
    const dropped = (x: string) => metric(x, 'bpfbox_live_frames_total', { interface: 'b0', counter: 'dropped' });
    const { c0, text } = await send(t, 'drop', (x) => dropped(x) >= n);
    assert.equal(c0.length, 0, 'nothing reaches c0');
    assert.equal(dropped(text), n);
    assert.equal(metric(text, 'bpfbox_live_frames_total', { interface: 'b0', counter: 'rx' }), n);
    assert.equal(metric(text, 'bpfbox_live_frames_total', { interface: 'b1', counter: 'sent' }), 0);
    assert.equal(
      metric(text, 'bpfbox_live_bytes_total', { interface: 'b0', counter: 'rx' }),
      frames.reduce((a, f) => a + f.length, 0),
    );
    assert.equal(metric(text, 'bpfbox_live_packets_total', { interface: 'b0', program: 'xdp_action', verdict: 'XDP_DROP' }), n);
    assert.match(text, /^# HELP bpfbox_live_frames_total .*forwarded: run, then sent on to the peer interface/m);
    assert.match(text, /^# TYPE bpfbox_live_worker_failures_total counter$/m);

    const show = cli(state, 'net', 'show', '-j');
    assert.equal(show.code, 0, show.err);
    const ifindex = (dev: string) => Number(t.exec(t.nsB, ['cat', `/sys/class/net/${dev}/ifindex`]).stdout.trim());
    const [entry] = (JSON.parse(show.out) as NetShow[])[0].xdp;
    assert.deepEqual(
      { ...entry, id: undefined },
      {
        devname: 'b0',
        ifindex: ifindex('b0'),
        mode: 'bridge',
        peer: 'b1',
        peer_ifindex: ifindex('b1'),
        id: undefined,
        name: 'xdp_action',
        offloads: 'off',
        on_error: 'drop',
        workers: 1,
      },
    );
  });

  it('refuses bad net commands with one line and a non-zero exit', () => {
    const bad = (args: string[], re: RegExp) => {
      const r = cli(state, 'net', ...args);
      assert.notEqual(r.code, 0, `${args.join(' ')}: ${r.out}`);
      assert.match(r.err, re);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    };
    bad(['attach', 'xdp', 'name', 'nosuch', 'dev', 'b0'], /^Error: prog name nosuch: no such program in the appliance$/m);
    bad(['attach', 'xdp', 'name', 'xdp_action', 'dev', 'b9'], /^Error: dev b9: no such interface/m);
    bad(
      ['attach', 'xdp', 'name', 'socket_head', 'dev', 'b0'],
      /^Error: prog socket_head \(id \d+\) is a socket filter, not an xdp program$/m,
    );
    bad(['attach', 'xdp', 'name', 'xdp_action', 'dev', 'b0', 'peer', 'c9'], /^Error: dev b0: is attached with peer b1/m);
    bad(['detach', 'xdp', 'dev', 'b1'], /^Error: dev b1: is the peer of b0's attachment/m);
    bad(['detach', 'tc', 'dev', 'b0'], /^Error: dev b0: has an xdp program attached, not tc$/m);
    bad(['detach', 'xdp', 'dev', 'a0'], /^Error: dev a0: nothing attached$/m);
    bad(['attach', 'xdpoffload', 'id', '1', 'dev', 'b0'], /^Error: invalid net attach\/detach type: xdpoffload/m);
  });

  it('net attach swaps the program at a batch boundary: c0 then gets what replay of the same capture passes', async () => {
    const t = topo();
    const r = cli(state, 'net', 'attach', 'xdp', 'name', 'xdp_no_dns', 'dev', 'b0', 'peer', 'b1');
    assert.equal(r.code, 0, r.err);
    const show = (JSON.parse(cli(state, 'net', 'show', '-j').out) as NetShow[])[0];
    assert.deepEqual(
      show.xdp.map((e) => [e.devname, e.name]),
      [['b0', 'xdp_no_dns']],
    );
    const before = scrape(t);
    const rx0 = metric(before, 'bpfbox_live_frames_total', { interface: 'b0', counter: 'rx' });
    const { c0, text, pcap } = await send(
      t,
      'nodns',
      (x) => metric(x, 'bpfbox_live_frames_total', { interface: 'b0', counter: 'rx' }) >= rx0 + frames.length,
    );
    const outPass = `${pcap}.pass.pcap`;
    const oracle = spawnSync(
      process.execPath,
      [CLI, 'replay', pcap, '--obj', LIVE_OBJ, '--prog', 'xdp_no_dns', '--workers', '1', '--out-pass', outPass, '--json'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(oracle.status, 0, oracle.stderr);
    const o = JSON.parse(oracle.stdout) as { verdict_names: Record<string, number> };
    assert.equal(o.verdict_names.XDP_DROP, frames.length / 5, 'one frame in 5 is DNS');
    assert.deepEqual(
      c0.map((f) => f.toString('hex')),
      readFrames(outPass).map((f) => f.toString('hex')),
    );
    assert.equal(metric(text, 'bpfbox_live_packets_total', { program: 'xdp_no_dns', verdict: 'XDP_DROP' }), o.verdict_names.XDP_DROP);
    assert.equal(metric(text, 'bpfbox_live_packets_total', { program: 'xdp_no_dns', verdict: 'XDP_PASS' }), o.verdict_names.XDP_PASS);
    assert.equal(metric(text, 'bpfbox_live_packets_total', { program: 'xdp_action', verdict: 'XDP_DROP' }), frames.length, 'kept');
  });

  it('net detach stops forwarding and gives b0 and b1 their offloads back', async () => {
    const t = topo();
    const r = cli(state, 'net', 'detach', 'xdp', 'dev', 'b0');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual((JSON.parse(cli(state, 'net', 'show', '-j').out) as NetShow[])[0].xdp, []);
    assert.equal(offloads(t, 'b0'), offloadsBefore.b0);
    assert.equal(offloads(t, 'b1'), offloadsBefore.b1);
    for (let i = 0; i < 50 && !/b1: offloads restored/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(stderr, /b0: offloads restored \(.*\)\n(.*\n)?.*b1: offloads restored/);
    const pcap = writePcap(join(dir, 'detached.pcap'), frames);
    const atC = await t.capture(t.nsC, 'c0', join(dir, 'detached-c0.pcap'), undefined, 'in');
    try {
      t.exec(t.nsA, ['tcpreplay', '-q', '-i', 'a0', '--pps=4000', pcap], { timeoutMs: 120_000 });
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await atC.stop();
    }
    assert.equal(readFrames(atC.file).length, 0, 'nothing bridges b0 and b1 any more');
    // the counts of the detached bridge stay in /metrics (counters only grow)
    assert.equal(metric(scrape(t), 'bpfbox_live_packets_total', { program: 'xdp_action', verdict: 'XDP_DROP' }), frames.length);
  });
});

/** The interfaces section's checks need neither root nor the native module: they run before any socket opens. */
describe('bpfbox serve --config: the interfaces section refused where it is wrong', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bpfbox-servelive-cfg-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const bad = (interfaces: string, re: RegExp, type = '') => {
    const config = join(dir, 'bad.yaml');
    writeFileSync(
      config,
      `workers: 2\nprograms:\n  - { name: p, obj: ${LIVE_OBJ}, prog: socket_head${type} }\n  - { name: x, obj: ${LIVE_OBJ}, prog: xdp_action }\ninterfaces:\n${interfaces}\n`,
    );
    const r = cli(dir, 'serve', '--config', config, '--metrics-addr', '127.0.0.1:0');
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, re);
  };

  it('names the field: an unknown program, a socket filter with a peer, an interface twice, too many workers, a bad key', () => {
    bad('  - { name: b0, program: nosuch }', /bad\.yaml:6:\d+: interfaces\[0\]\.program: no program named nosuch \(programs: p, x\)/);
    bad(
      '  - { name: b0, peer: b1, program: p }',
      /interfaces\[0\]\.program: p is a socket filter: it runs only in a tap \(no peer\)/,
      ', type: socket',
    );
    bad('  - { name: b0, peer: b1, program: p }', /interfaces\[0\]\.program: p is a socket filter: it runs only in a tap \(no peer\)/);
    bad('  - { name: b0, peer: b0, program: x }', /interfaces\[0\]\.peer: b0 is the name: a bridge joins two interfaces/);
    bad('  - { name: b0, peer: b1, program: x }\n  - { name: b1, program: x }', /interfaces\[1\]\.name: b1 is already in interfaces\[0\]/);
    bad('  - { name: b0, program: x, workers: 3 }', /interfaces\[0\]\.workers: 3 workers, but the service's kernel has 2 CPUs/);
    bad('  - { name: b0, program: x, offload: off }', /interfaces\[0\]\.offload: unknown key/);
    bad('  - { name: b0, program: x, on_error: open }', /interfaces\[0\]\.on_error: expected one of drop, pass/);
  });

  it('net without a running appliance is one line and exit 255', () => {
    const r = cli(dir, 'net', 'show');
    assert.equal(r.code, 255);
    assert.match(r.err, /^Error: no appliance is running \(bpfbox serve --config; state directory .*\)$/m);
  });
});
