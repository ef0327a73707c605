import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_A, HOST_C, HOST_D, Topology } from './topology.js';

const namespaces = (): string[] =>
  spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0])
    .filter(Boolean);

/** ping's own count of replies received (`N received`), from `ping -q` output. */
const received = (out: string): number => Number(/(\d+) received/.exec(out)?.[1] ?? -1);

describe('test topology (test/support/topology.ts)', function () {
  this.timeout(60_000);
  let t: Topology | undefined;
  let dir = '';
  before(function () {
    const why = Topology.available(['ping', 'tcpdump']);
    if (why) {
      console.log(`  test topology: SKIPPED: ${why}`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-topo-'));
    t = Topology.create('topo', { withD: true });
  });
  after(() => {
    t?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('makes the four namespaces with the documented names, and the hosts their fixed addresses', () => {
    const mine = namespaces().filter((n) => n.startsWith(`bpfbox-${process.pid}-topo-`));
    assert.deepEqual(mine.sort(), [t!.nsA, t!.nsB, t!.nsC, t!.nsD!].sort());
    for (const h of t!.hosts) {
      const link = JSON.parse(t!.exec(h.ns, ['ip', '-j', 'addr', 'show', 'dev', h.dev]).stdout)[0];
      assert.equal(link.address, h.mac, h.dev);
      assert.deepEqual(
        link.addr_info.map((a: { family: string; local: string }) => `${a.family} ${a.local}`),
        [`inet ${h.ip}`],
        `${h.dev}: IPv4 only`,
      );
    }
    assert.deepEqual(
      [HOST_A.ip, HOST_C.ip, HOST_D.ip],
      t!.hosts.map((h) => h.ip),
    );
  });

  it('does not connect a0 to c0 until something forwards in nsB', () => {
    const r = t!.exec(t!.nsA, ['ping', '-q', '-c', '2', '-i', '0.2', '-W', '1', HOST_C.ip], { check: false });
    assert.equal(received(r.stdout), 0, r.stdout);
  });

  it('pings a0 -> c0 through a Linux bridge in nsB; the counters and a capture at c0 see exactly that traffic', async () => {
    t!.bridge();
    try {
      // the bridge's first frames may race its ports' state: one warm-up ping, not counted
      t!.exec(t!.nsA, ['ping', '-q', '-c', '1', '-W', '2', HOST_C.ip], { check: false });
      const before = t!.linkStats(t!.nsC, 'c0');
      const cap = await t!.capture(t!.nsC, 'c0', join(dir, 'c0.pcap'));
      const r = t!.exec(t!.nsA, ['ping', '-q', '-c', '5', '-i', '0.05', '-W', '2', HOST_C.ip], { check: false });
      const counts = await cap.stop();
      const after = t!.linkStats(t!.nsC, 'c0');
      assert.equal(received(r.stdout), 5, r.stdout);
      // five requests in, five replies out: no ARP (permanent neighbours), no IPv6 (disabled)
      assert.equal(after.rxPackets - before.rxPackets, 5);
      assert.equal(after.txPackets - before.txPackets, 5);
      assert.equal(after.rxBytes - before.rxBytes, 5 * 98, 'an ICMP echo of 56 data bytes is a 98-byte frame');
      assert.equal(counts.captured, 10);
      const read = spawnSync('tcpdump', ['-r', cap.file, '-n', '-e'], { encoding: 'utf8' });
      const lines = read.stdout.trim().split('\n');
      assert.equal(lines.length, 10, read.stdout);
      assert.equal(lines.filter((l) => l.includes(`${HOST_A.mac} > ${HOST_C.mac}`) && l.includes('echo request')).length, 5);
      assert.equal(lines.filter((l) => l.includes(`${HOST_C.mac} > ${HOST_A.mac}`) && l.includes('echo reply')).length, 5);
    } finally {
      t!.unbridge();
    }
  });

  it('spawn runs a command inside the namespace; cleanup removes every namespace, kills what it spawned, and is idempotent', async () => {
    const child = t!.spawn(t!.nsB, ['sleep', '30']);
    // `ip netns exec` enters the namespace, then execs the command in the same process: ask a few times (bounded)
    let ns = '';
    for (let i = 0; i < 50 && ns !== t!.nsB; i++) {
      ns = spawnSync('ip', ['netns', 'identify', String(child.pid)], { encoding: 'utf8' }).stdout.trim();
      if (ns !== t!.nsB) spawnSync('sleep', ['0.02']);
    }
    assert.equal(ns, t!.nsB);
    const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    t!.cleanup();
    t!.cleanup();
    assert.equal(await exited, 'SIGKILL');
    assert.deepEqual(
      namespaces().filter((n) => n.startsWith(`bpfbox-${process.pid}-`)),
      [],
    );
  });

  it('a process that exits without cleanup() leaves no namespaces (the exit handler)', () => {
    const url = new URL('./topology.js', import.meta.url).href;
    const code = `const m = await import(${JSON.stringify(url)}); m.Topology.create('exit'); console.log(process.pid); process.exit(0);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const pid = r.stdout.trim();
    assert.match(pid, /^\d+$/);
    assert.deepEqual(
      namespaces().filter((n) => n.startsWith(`bpfbox-${pid}-`)),
      [],
    );
  });
});
