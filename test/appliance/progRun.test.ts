import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { bpfbox, tempState } from './cliSupport.js';

/**
 * `prog run`'s output buffer is bpftool's: data_size_out bytes, 32768 unless told (bpftool
 * on 6.18: a 32768-byte XDP packet runs, 32769 bytes is ENOSPC with or without data_out).
 */
describe('prog run from the command line: the output buffer as bpftool sizes it, and --engine', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'bpfbox-run-'));
  const state = tempState();
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });
  const packet = (n: number) => {
    const f = join(dir, `p${n}.bin`);
    writeFileSync(f, new Uint8Array(n)); // xdp_adjust: byte 0 = 0, tail +0
    return f;
  };
  const run = (...a: string[]) => bpfbox(state, '-j', 'prog', 'run', 'pinned', '/sys/fs/bpf/adj/xdp_adjust', ...a);

  it('32768 bytes fit the default; 32769 do not, with or without data_out; data_size_out makes room', () => {
    assert.equal(bpfbox(state, 'prog', 'loadall', join(REPO_ROOT, 'bpf', 'xdp_adjust.o'), '/sys/fs/bpf/adj').code, 0);
    const out = join(dir, 'out.bin');
    const fits = run('data_in', packet(32768), 'data_out', out);
    assert.equal(fits.code, 0, fits.out);
    assert.equal(JSON.parse(fits.out).retval, 3520, 'the linear part: a page less 256 headroom and 320 tailroom');
    assert.equal(readFileSync(out).length, 32768);
    for (const extra of [['data_out', out], []]) {
      const over = run('data_in', packet(32769), ...extra);
      assert.equal(over.code, 255);
      assert.deepEqual(JSON.parse(over.out), { error: 'failed to run program: No space left on device' });
    }
    const roomy = run('data_in', packet(32769), 'data_out', out, 'data_size_out', '40000');
    assert.equal(roomy.code, 0, roomy.out);
    assert.equal(readFileSync(out).length, 32769);
  });

  it('the same return value and packet under --engine jit as interpreted; an unknown engine is refused', () => {
    assert.equal(bpfbox(state, 'prog', 'loadall', join(REPO_ROOT, 'bpf', 'xdp_adjust.o'), '/sys/fs/bpf/adj_engine').code, 0);
    const pkt = join(dir, 'p.bin');
    writeFileSync(
      pkt,
      Uint8Array.from({ length: 64 }, (_, i) => (i === 0 ? 1 : i)),
    );
    const outs = ['interpreter', 'jit'].map((engine) => {
      const out = join(dir, `${engine}.bin`);
      const r = bpfbox(
        state,
        '--engine',
        engine,
        '-j',
        'prog',
        'run',
        'pinned',
        '/sys/fs/bpf/adj_engine/xdp_adjust',
        'data_in',
        pkt,
        'data_out',
        out,
      );
      assert.equal(r.code, 0, r.err);
      return [JSON.parse(r.out).retval, readFileSync(out).toString('hex')];
    });
    assert.deepEqual(outs[1], outs[0]);
    const bad = bpfbox(state, '--engine', 'fast', 'prog', 'show');
    assert.equal(bad.code, 255);
    assert.match(bad.err, /--engine: expected one of interpreter, jit/);
  });

  it('repeat N prints each bpf_trace_printk line once, with how many times it came', () => {
    assert.equal(bpfbox(state, 'prog', 'loadall', join(REPO_ROOT, 'bpf', 'trace_print.o'), '/sys/fs/bpf/tp').code, 0);
    const runs = (n: number) =>
      bpfbox(state, 'prog', 'run', 'pinned', '/sys/fs/bpf/tp/trace_len', 'data_in', packet(64), 'repeat', String(n));
    const many = runs(100);
    assert.equal(many.code, 0, many.err);
    assert.deepEqual(
      many.err.split('\n').filter((l) => l.startsWith('bpf_trace_printk:')),
      ['bpf_trace_printk: len 64 (100 times)', 'bpf_trace_printk: done (100 times)'],
    );
    const once = runs(1);
    assert.deepEqual(
      once.err.split('\n').filter((l) => l.startsWith('bpf_trace_printk:')),
      ['bpf_trace_printk: len 64', 'bpf_trace_printk: done'],
    );
  });

  it("a pinned program keeps its load's loaded_at and its expected_attach_type in every later process", async () => {
    assert.equal(bpfbox(state, 'prog', 'loadall', join(REPO_ROOT, 'bpf', 'live.o'), '/sys/fs/bpf/lv').code, 0);
    const show = () =>
      (JSON.parse(bpfbox(state, '-j', 'prog', 'show').out) as { name: string; loaded_at: number }[]).filter((p) =>
        ['xdp_action', 'devmap_mark'].includes(p.name),
      );
    const first = show();
    await new Promise((r) => setTimeout(r, 1100));
    const second = show();
    // devmap_mark reads egress_ifindex: restored without BPF_XDP_DEVMAP it would not verify
    assert.deepEqual(first.map((p) => p.name).sort(), ['devmap_mark', 'xdp_action']);
    assert.deepEqual(second, first, 'the same loaded_at a second later, from another process');
    const r = bpfbox(state, 'prog', 'run', 'pinned', '/sys/fs/bpf/lv/devmap_mark', 'data_in', packet(64));
    assert.equal(r.code, 0, r.err);
  });
});
