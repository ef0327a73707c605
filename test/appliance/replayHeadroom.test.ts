import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bpfbox, tempState } from './cliSupport.js';
import { kernelBpffs } from '../support/bpffs.js';
import { REPO_ROOT } from '../support/paths.js';
import { handFrames, handPcap } from '../support/handPcap.js';

const OBJ = join(REPO_ROOT, 'bpf', 'xdp_headroom.o');

/** a 60-byte IPv4 frame whose byte 14 is `mark` (xdp_headroom fills the head it grows only when it is non-zero) */
const frame = (mark: number) => {
  const f = Buffer.alloc(60);
  f.fill(0xff, 0, 6);
  f.writeUInt16BE(0x0800, 12);
  f[14] = mark;
  f[59] = 0x5a;
  return f;
};

describe('replay: headroom a program exposes is zero, as in a test run, whatever an earlier packet left there', function () {
  this.timeout(60_000);
  let tmp = '';
  let state = '';
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'bpfbox-headroom-'));
    state = tempState();
  });
  after(() => {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  it('a marked packet fills its new head with 0xaa; the unmarked one after it on the same worker gets 16 zero bytes', () => {
    const input = join(tmp, 'in.pcap');
    const out = join(tmp, 'out.pcap');
    writeFileSync(input, handPcap([frame(1), frame(0), frame(1), frame(0)]));
    const r = bpfbox(state, 'replay', input, '--obj', OBJ, '--workers', '1', '--out', out);
    assert.equal(r.code, 0, r.err);
    const got = handFrames(readFileSync(out));
    // hand-computed: 16 bytes of 0xaa or of zero, then the frame as it came
    assert.deepEqual(
      got.map((f) => f.toString('hex')),
      [1, 0, 1, 0].map((m) => Buffer.concat([Buffer.alloc(16, m ? 0xaa : 0), frame(m)]).toString('hex')),
    );
    // the same packet through prog run (a test run, as the kernel's: zeroed headroom)
    const pkt = join(tmp, 'p0.bin');
    const dataOut = join(tmp, 'p0.out');
    writeFileSync(pkt, frame(0));
    const run = bpfbox(state, 'prog', 'run', 'pinned', '/sys/fs/bpf/hr', 'data_in', pkt, 'data_out', dataOut);
    if (run.code !== 0) {
      assert.equal(bpfbox(state, 'prog', 'load', OBJ, '/sys/fs/bpf/hr').code, 0);
      assert.equal(bpfbox(state, 'prog', 'run', 'pinned', '/sys/fs/bpf/hr', 'data_in', pkt, 'data_out', dataOut).code, 0);
    }
    assert.equal(readFileSync(dataOut).toString('hex'), got[1].toString('hex'));
  });

  it('the kernel gives the unmarked packet the same bytes (skips without BPF here)', function () {
    const why =
      spawnSync('bpftool', ['version']).status !== 0 ? 'bpftool is not installed' : process.getuid?.() !== 0 ? 'not root' : kernelBpffs();
    if (why) {
      console.log(`  headroom differential: SKIPPED: ${why}`);
      this.skip();
    }
    const pin = `/sys/fs/bpf/bpfbox_headroom_${process.pid}`;
    const pkt = join(tmp, 'k.bin');
    const dataOut = join(tmp, 'k.out');
    writeFileSync(pkt, frame(0));
    try {
      assert.equal(spawnSync('bpftool', ['prog', 'load', OBJ, pin]).status, 0);
      const k = spawnSync('bpftool', ['prog', 'run', 'pinned', pin, 'data_in', pkt, 'data_out', dataOut], { encoding: 'utf8' });
      assert.equal(k.status, 0, k.stderr);
      assert.equal(readFileSync(dataOut).toString('hex'), Buffer.concat([Buffer.alloc(16), frame(0)]).toString('hex'));
    } finally {
      rmSync(pin, { force: true });
    }
  });
});
