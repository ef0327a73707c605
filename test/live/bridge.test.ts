import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LiveSummary } from '../../appliance/live/bridge.js';
import { type Topology, topologyForSuite } from '../support/topology.js';
import { CLI, LIVE_OBJ, type LiveRun, liveUnavailable, readFrames, runLive, tagged, udpFrame, writePcap } from './liveSupport.js';

/**
 * The live bridge end to end, in namespaces of its own: nsA(a0) - nsB(b0 | bpfbox | b1) -
 * nsC(c0). Frames go in with tcpreplay at a0 and are checked where they come out, at c0 (or
 * back at a0), with tcpdump: against the frames sent, and against `bpfbox replay` of the same
 * capture with the same program (replay is the oracle for live).
 */
describe('bpfbox live: an inline bridge over AF_PACKET', function () {
  this.timeout(180_000);
  const topo = topologyForSuite('bpfbox live', 'br', { tools: ['tcpreplay', 'tcpdump', 'ethtool'], withD: true });
  let dir: string;
  before(function () {
    const why = liveUnavailable();
    if (why) {
      console.log(`  bpfbox live: SKIPPED: ${why}`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-live-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  /** send replays a capture out of a0 at a rate the 2-core machine keeps up with. */
  const send = (t: Topology, pcap: string, pps = 4000) =>
    t.exec(t.nsA, ['tcpreplay', '-q', '-i', 'a0', `--pps=${pps}`, pcap], { timeoutMs: 120_000 });

  /** through: runs live with `args` while `frames` go out of a0, capturing at c0 (and a0's input, d0): what arrived where. */
  async function through(args: readonly string[], frames: readonly Buffer[], name: string, o: { env?: NodeJS.ProcessEnv } = {}) {
    const t = topo();
    const pcap = writePcap(join(dir, `${name}.pcap`), frames);
    const atC = await t.capture(t.nsC, 'c0', join(dir, `${name}-c0.pcap`), undefined, 'in');
    const atA = await t.capture(t.nsA, 'a0', join(dir, `${name}-a0.pcap`), undefined, 'in');
    const atD = await t.capture(t.nsD!, 'd0', join(dir, `${name}-d0.pcap`), undefined, 'in');
    let run: LiveRun;
    try {
      run = await runLive(t, ['--dev', 'b0', '--peer', 'b1', ...args], () => void send(t, pcap), o);
    } finally {
      await Promise.all([atC.stop(), atA.stop(), atD.stop()]);
    }
    assert.ok(run.summary, `live gave no summary (exit ${run.code}): ${run.stderr}${run.stdout}`);
    return { run, s: run.summary!, pcap, c0: readFrames(atC.file), a0: readFrames(atA.file), d0: readFrames(atD.file) };
  }

  /** Frames to c0's MAC but an address nobody has: c0 counts and drops them, and answers nothing (no ICMP in the captures). */
  const NOWHERE = '10.77.0.99';
  const mixed = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      udpFrame({ sport: 1000 + (i % 13), dport: i % 5 === 0 ? 53 : 2000 + (i % 7), payload: 18 + ((i * 37) % 400), id: i, dst: NOWHERE }),
    );

  /** replay: `bpfbox replay` of the capture with the program: its summary, and the packets that go on as it left them. */
  function replay(pcap: string, prog: string, extra: readonly string[] = []): { s: LiveSummary; pass: Buffer[] } {
    const outPass = `${pcap}.pass.pcap`;
    const r = spawnSync(
      'node',
      [CLI, 'replay', pcap, '--obj', LIVE_OBJ, '--prog', prog, '--workers', '1', '--out-pass', outPass, '--json', ...extra],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    return { s: JSON.parse(r.stdout) as LiveSummary, pass: readFrames(outPass) };
  }

  it('XDP_PASS forwards every frame to the peer byte-exact, and counts each once', async () => {
    const frames = mixed(600);
    const { s, c0, a0 } = await through(['--obj', LIVE_OBJ, '--prog', 'xdp_action', '--workers', '1'], frames, 'pass');
    assert.deepEqual(
      c0.map((f) => f.toString('hex')),
      frames.map((f) => f.toString('hex')),
    );
    assert.equal(a0.length, 0, 'nothing comes back to a0');
    assert.equal(s.interfaces.b0.rx, 600);
    assert.equal(s.interfaces.b0.forwarded, 600);
    assert.equal(s.interfaces.b1.sent, 600);
    assert.equal(s.verdict_names.XDP_PASS, 600);
  });

  it('XDP_DROP forwards none; XDP_TX sends each frame back out of a0', async () => {
    const frames = mixed(200);
    const drop = await through(['--obj', LIVE_OBJ, '--prog', 'xdp_action', '--set', 'action=1', '--workers', '1'], frames, 'drop');
    assert.equal(drop.c0.length, 0);
    assert.equal(drop.s.interfaces.b0.dropped, 200);
    assert.equal(drop.s.interfaces.b1.sent, 0);
    const tx = await through(['--obj', LIVE_OBJ, '--prog', 'xdp_action', '--set', 'action=3', '--workers', '1'], frames, 'tx');
    assert.equal(tx.c0.length, 0);
    assert.deepEqual(
      tx.a0.map((f) => f.toString('hex')),
      frames.map((f) => f.toString('hex')),
    );
    assert.equal(tx.s.interfaces.b0.tx, 200);
    assert.equal(tx.s.interfaces.b0.sent, 200);
  });

  it('a program that drops DNS drops exactly the frames replay of the same capture drops', async () => {
    const frames = mixed(500);
    const { s, c0, pcap } = await through(['--obj', LIVE_OBJ, '--prog', 'xdp_no_dns', '--workers', '2'], frames, 'dns');
    const oracle = replay(pcap, 'xdp_no_dns');
    assert.equal(oracle.s.verdict_names.XDP_DROP, 100, 'one frame in 5 is DNS');
    assert.equal(s.verdict_names.XDP_DROP, oracle.s.verdict_names.XDP_DROP);
    assert.equal(s.verdict_names.XDP_PASS, oracle.s.verdict_names.XDP_PASS);
    // two workers: frames of different flows may overtake each other; each flow's stay in order
    assert.deepEqual(c0.map((f) => f.toString('hex')).sort(), oracle.pass.map((f) => f.toString('hex')).sort());
  });

  it('a rewriting program (MACs swapped, TTL decremented, checksum fixed) delivers what replay --out-pass writes', async () => {
    const frames = mixed(300);
    const { c0, pcap } = await through(['--obj', LIVE_OBJ, '--prog', 'xdp_rewrite', '--workers', '1'], frames, 'rewrite');
    const oracle = replay(pcap, 'xdp_rewrite');
    assert.equal(c0.length, 300);
    assert.deepEqual(
      c0.map((f) => f.toString('hex')),
      oracle.pass.map((f) => f.toString('hex')),
    );
    // and independently: TTL 63, a valid header checksum
    assert.equal(c0[0][22], 63);
    assert.notDeepEqual(c0[0].subarray(0, 6), frames[0].subarray(0, 6));
  });

  it('XDP_REDIRECT through a devmap sends frames out of another managed interface (b2 to d0)', async () => {
    const t = topo();
    const ifindex = Number(t.exec(t.nsB, ['cat', '/sys/class/net/b2/ifindex']).stdout.trim());
    const init = join(dir, 'ports.json');
    const le32 = (v: number) => Buffer.from(new Uint32Array([v]).buffer).toString('hex');
    writeFileSync(init, JSON.stringify({ maps: { ports: [[le32(0), le32(ifindex)]] } }));
    const frames = mixed(100);
    const { s, c0, d0 } = await through(
      ['--obj', LIVE_OBJ, '--prog', 'xdp_to_dev', '--dev', 'b2', '--map-init', init, '--workers', '1'],
      frames,
      'devmap',
    );
    assert.equal(c0.length, 0);
    assert.deepEqual(
      d0.map((f) => f.toString('hex')),
      frames.map((f) => f.toString('hex')),
    );
    assert.equal(s.interfaces.b0.redirected, 100);
    assert.equal(s.interfaces.b2.sent, 100);
  });

  it('VLAN-tagged frames (802.1Q, 802.1ad) reach the program with the tag in the data and leave tagged', async () => {
    const plain = mixed(40);
    const frames = plain.map((f, i) => (i % 3 === 0 ? tagged(f, 0x8100, 100 + i) : i % 3 === 1 ? tagged(f, 0x88a8, 200 + i) : f));
    const { s, c0 } = await through(['--obj', LIVE_OBJ, '--prog', 'xdp_vlan', '--workers', '1'], frames, 'vlan');
    const want = frames.filter((_, i) => i % 3 !== 2);
    assert.deepEqual(
      c0.map((f) => f.toString('hex')),
      want.map((f) => f.toString('hex')),
    );
    assert.equal(s.interfaces.b0.vlan_restored, want.length);
    assert.equal(s.verdict_names.XDP_DROP, frames.length - want.length);
  });

  it("a tc program's TC_ACT_SHOT drops; TC_ACT_OK forwards", async () => {
    const udp = mixed(50);
    const other = udp.map((f) => {
      const g = Buffer.from(f);
      g[23] = 253; // an experimental IP protocol: not UDP (the header checksum is not checked by anyone here)
      return g;
    });
    const frames = udp.flatMap((f, i) => [f, other[i]]);
    const { s, c0 } = await through(['--obj', LIVE_OBJ, '--prog', 'tc_no_udp', '--workers', '1'], frames, 'tc');
    assert.deepEqual(
      c0.map((f) => f.toString('hex')),
      other.map((f) => f.toString('hex')),
    );
    assert.equal(s.verdict_names.TC_ACT_SHOT, 50);
    assert.equal(s.verdict_names.TC_ACT_OK, 50);
  });
});
