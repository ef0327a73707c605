import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { type Topology, topologyForSuite } from '../support/topology.js';
import { CLI, LIVE_OBJ, liveUnavailable, runLive, udpFrame, writePcap } from './liveSupport.js';

/**
 * What a user gets wrong and what goes wrong under bpfbox live: one line and exit 1 for each
 * mistake before a socket opens; a worker that dies mid-run (the on-error policy decides what
 * happens to its share of the traffic, the bridge goes on, offloads come back at exit); and a
 * SIGKILL of the whole process (the offloads it left off are reported and restored at the
 * next start).
 */
describe('bpfbox live: bad input and failures', function () {
  this.timeout(180_000);
  const topo = topologyForSuite('bpfbox live failures', 'fail', { tools: ['tcpreplay', 'tcpdump', 'ethtool', 'setpriv'] });
  let dir: string;
  let runDir: string;
  before(function () {
    const why = liveUnavailable();
    if (why) {
      console.log(`  bpfbox live failures: SKIPPED: ${why}`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-livefail-'));
    runDir = join(dir, 'run');
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  /** live runs `bpfbox live ARGS` in nsB to its end (the mistakes stop it at once) with `cli` (another copy of the CLI). */
  const live = (t: Topology, args: readonly string[], o: { cli?: string; prefix?: readonly string[] } = {}) =>
    t.exec(t.nsB, [...(o.prefix ?? []), 'node', o.cli ?? CLI, 'live', ...args], { check: false, timeoutMs: 60_000 });

  /** oneLine: the run failed with exit 1 and a single line on stderr that matches `re`, no stack. */
  function oneLine(r: ReturnType<typeof live>, re: RegExp): void {
    assert.equal(r.status, 1, `exit ${r.status}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }

  it('an interface that does not exist, a peer equal to the device, a socket filter in a bridge: one line each, nothing touched', () => {
    const t = topo();
    oneLine(live(t, ['--dev', 'nope0', '--peer', 'b1', '--obj', LIVE_OBJ]), /^Error: --dev nope0: no such interface/);
    oneLine(live(t, ['--dev', 'b0', '--peer', 'b0', '--obj', LIVE_OBJ]), /--peer b0 is the --dev/);
    oneLine(live(t, ['--dev', 'b0', '--peer', 'b1', '--obj', LIVE_OBJ, '--prog', 'socket_head']), /socket filter.*tap/);
    oneLine(live(t, ['--dev', 'b0', '--peer', 'b1', '--obj', LIVE_OBJ, '--prog', 'nope']), /no program named nope/);
    oneLine(live(t, ['--dev', 'b0', '--obj', LIVE_OBJ, '--duration', '0']), /--duration 0/);
    // nothing was changed on the way: b0's offloads as the kernel set them
    assert.match(t.exec(t.nsB, ['ethtool', '-k', 'b0']).stdout, /tcp-segmentation-offload: on/);
  });

  it('without CAP_NET_RAW: says what it needs', () => {
    const t = topo();
    const r = live(t, ['--dev', 'b0', '--peer', 'b1', '--obj', LIVE_OBJ], {
      prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'],
    });
    oneLine(r, /root or CAP_NET_RAW/);
  });

  it('without the native module: says it was not built and how to build it', () => {
    const t = topo();
    // a copy of the compiled package without native/build: what an install without a compiler leaves
    const pkg = join(dir, 'pkg');
    mkdirSync(pkg);
    cpSync(join(REPO_ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
    cpSync(join(REPO_ROOT, 'package.json'), join(pkg, 'package.json'));
    cpSync(join(REPO_ROOT, 'config'), join(pkg, 'config'), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(pkg, 'node_modules'));
    oneLine(
      live(t, ['--dev', 'b0', '--peer', 'b1', '--obj', LIVE_OBJ], { cli: join(pkg, 'dist/bundle/cli/main.js') }),
      /not built.*npm rebuild/,
    );
    // and replay still works there
    const r = spawnSync(
      'node',
      [
        join(pkg, 'dist/bundle/cli/main.js'),
        'replay',
        join(REPO_ROOT, 'pcaps/sample.pcap'),
        '--obj',
        LIVE_OBJ,
        '--prog',
        'xdp_action',
        '--json',
      ],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
  });

  for (const onError of ['pass', 'drop'] as const) {
    it(`a worker that dies mid-run: on-error ${onError}; the bridge goes on, every frame is accounted for, offloads restored`, async () => {
      const t = topo();
      const frames = Array.from({ length: 4000 }, (_, i) =>
        udpFrame({ sport: 1000 + (i % 50), dport: 2000, payload: 40, id: i, dst: '10.77.0.99' }),
      );
      const pcap = writePcap(join(dir, `die-${onError}.pcap`), frames);
      const c0Before = t.linkStats(t.nsC, 'c0').rxPackets;
      const run = await runLive(
        t,
        ['--dev', 'b0', '--peer', 'b1', '--obj', LIVE_OBJ, '--prog', 'xdp_action', '--workers', '1', '--on-error', onError],
        () => void t.exec(t.nsA, ['tcpreplay', '-q', '-i', 'a0', '--pps=3000', pcap], { timeoutMs: 60_000 }),
        { env: { BPFBOX_LIVE_FAULT: 'cpu0:after:400', BPFBOX_RUN_DIR: runDir } },
      );
      const s = run.summary!;
      assert.ok(s, run.stderr);
      assert.equal(run.code, 1, 'a failure on the way: exit 1');
      assert.equal(s.worker_failures, 1);
      assert.match(run.stderr, new RegExp(`worker for cpu 0 failed .*on-error ${onError}`));
      const b0 = s.interfaces.b0;
      // what reached c0 (its own counter: a capture there could drop frames under load)
      const atC0 = t.linkStats(t.nsC, 'c0').rxPackets - c0Before;
      const b1 = s.interfaces.b1;
      // before the failure the program forwarded; after it, the stand-in passed (or dropped) unexamined
      assert.ok(b0.forwarded >= 256 && b0.forwarded <= 400, `forwarded ${b0.forwarded}`);
      assert.ok(b0.unrun > 0, `the stand-in took frames: ${JSON.stringify(b0)}`);
      assert.equal(b1.sent + b1.send_errors, b0.forwarded + (onError === 'pass' ? b0.unrun : 0));
      assert.equal(atC0, b1.sent);
      // frames lost: the dead worker's batch in flight (counted), and those that came while no socket was open (not seen by anyone)
      assert.ok(s.lost_on_failure <= 256, `lost ${s.lost_on_failure}`);
      assert.ok(b0.rx - (b0.forwarded + b0.unrun) === s.lost_on_failure, 'rx = outcomes + lost');
      assert.match(t.exec(t.nsB, ['ethtool', '-k', 'b0']).stdout, /tcp-segmentation-offload: on/);
    });
  }

  it('SIGKILL leaves the offloads off; the next start reports it and restores them', async () => {
    const t = topo();
    const env = { ...process.env, BPFBOX_RUN_DIR: runDir };
    const child = t.spawn(t.nsB, ['node', CLI, 'live', '--dev', 'b0', '--peer', 'b1', '--obj', LIVE_OBJ, '--prog', 'xdp_action'], { env });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const end = Date.now() + 60_000;
    while (!stderr.includes('Ctrl-C stops') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.match(stderr, /Ctrl-C stops/);
    // the process itself: `ip netns exec` execs node, so the spawned pid is node's
    process.kill(child.pid!, 'SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.match(t.exec(t.nsB, ['ethtool', '-k', 'b0']).stdout, /tcp-segmentation-offload: off/);
    const again = await runLive(
      t,
      ['--dev', 'b0', '--peer', 'b1', '--obj', LIVE_OBJ, '--prog', 'xdp_action', '--offloads', 'passthrough'],
      () => undefined,
      {
        env: { BPFBOX_RUN_DIR: runDir },
      },
    );
    assert.match(again.stderr, new RegExp(`b0's offloads were left off by bpfbox pid ${child.pid}`));
    assert.match(t.exec(t.nsB, ['ethtool', '-k', 'b0']).stdout, /tcp-segmentation-offload: on/);
    assert.match(t.exec(t.nsB, ['ethtool', '-k', 'b1']).stdout, /tcp-segmentation-offload: on/);
  });
});
