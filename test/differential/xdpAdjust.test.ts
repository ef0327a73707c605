import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { strerror } from '../../uapi/errno.js';
import { Kernel } from '../../kernel/kernel.js';
import { REPO_ROOT } from '../support/paths.js';
import { kernelBpffs } from '../support/bpffs.js';

/**
 * Differential for XDP's frame edges and test-run's struct xdp_md in/out: bpf/xdp_adjust.o
 * moves the tail, the meta area or the head by what the packet says, on linear and
 * multi-buffer frames, with and without ctx_in (metadata in data_in, a shorter linear part,
 * the fields the kernel refuses). The kernel (`bpftool prog run`) and bpfbox must agree on the
 * refusal (the errno), the return value, the packet out and the context out.
 */
const DIR = `/sys/fs/bpf/bpfbox_adjust_${process.pid}`;
const bt = (...a: string[]) => spawnSync('bpftool', a, { encoding: 'utf8' });

/** A packet: [edge, sign, amount (be16)] then a pattern, `len` bytes in all. */
function pkt(edge: 'tail' | 'meta' | 'head', delta: number, len = 64): Uint8Array {
  const p = Uint8Array.from({ length: len }, (_, i) => (i * 7 + 3) & 0xff);
  p.set([['tail', 'meta', 'head'].indexOf(edge), delta < 0 ? 1 : 0, Math.abs(delta) >> 8, Math.abs(delta) & 0xff]);
  return p;
}
/** struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex. */
const md = (...f: number[]) => {
  const b = new Uint8Array(24);
  f.forEach((v, i) => new DataView(b.buffer).setUint32(4 * i, v, true));
  return b;
};
/** With metadata: `meta` bytes before the packet in data_in (the packet's own bytes start after). */
function withMeta(meta: number, p: Uint8Array): Uint8Array {
  const b = new Uint8Array(meta + p.length).fill(0xee);
  b.set(p, meta);
  return b;
}

const CASES: readonly [string, Uint8Array, Uint8Array?][] = [
  ['tail +0', pkt('tail', 0)],
  ['tail +100', pkt('tail', 100)],
  ['tail to the page (+3456)', pkt('tail', 3456)],
  ['tail past the page', pkt('tail', 3457)],
  ['tail to an Ethernet header', pkt('tail', -50)],
  ['tail below it', pkt('tail', -51)],
  ['jumbo: last fragment grows', pkt('tail', 2616, 5000)],
  ['jumbo: past its page', pkt('tail', 2617, 5000)],
  ['jumbo: the fragment goes', pkt('tail', -1480, 5000)],
  ['jumbo: into the linear part', pkt('tail', -1600, 5000)],
  ['jumbo: to an Ethernet header', pkt('tail', -(5000 - 14), 5000)],
  ['jumbo: below it', pkt('tail', -(5000 - 13), 5000)],
  ['meta -4', pkt('meta', -4)],
  ['meta -216', pkt('meta', -216)],
  ['meta -220 (the xdp_frame)', pkt('meta', -220)],
  ['meta -6 (alignment)', pkt('meta', -6)],
  ['meta +4 (past data)', pkt('meta', 4)],
  ['head -216', pkt('head', -216)],
  ['head -217', pkt('head', -217)],
  ['head +50', pkt('head', 50)],
  ['head +51', pkt('head', 51)],
  ['ctx: as without', pkt('tail', 10), md(0, 64)],
  ['ctx: all zero (no linear part)', pkt('tail', 10), md()],
  ['ctx: 4 linear bytes, the tail grows in the fragment', pkt('tail', 100), md(0, 4)],
  ['ctx: 4 linear, shrink past the fragment', pkt('tail', -55), md(0, 4)],
  ['ctx: 8 bytes of metadata', withMeta(8, pkt('meta', -8)), md(8, 72)],
  ['ctx: metadata, head moves it', withMeta(8, pkt('head', -20)), md(8, 72)],
  ['ctx: 216 bytes of metadata', withMeta(216, pkt('meta', 8)), md(216, 280)],
  ['ctx: 220 bytes', withMeta(220, pkt('meta', 8)), md(220, 284)],
  ['ctx: 6 bytes of metadata', withMeta(6, pkt('meta', 0)), md(6, 70)],
  ['ctx: metadata and a runt', withMeta(8, pkt('tail', 0, 13)), md(8, 21)],
  ['ctx: data_meta set', pkt('tail', 0), md(0, 64, 4)],
  ['ctx: data_end past data_in', pkt('tail', 0), md(0, 65)],
  ['ctx: data past data_end', pkt('tail', 0), md(8, 4)],
  ['ctx: egress_ifindex', pkt('tail', 0), md(0, 64, 0, 0, 0, 1)],
  ['ctx: rx queue without a device', pkt('tail', 0), md(0, 64, 0, 0, 1)],
  ['ctx: loopback', pkt('tail', 0), md(0, 64, 0, 1)],
  ['ctx: loopback queue 1', pkt('tail', 0), md(0, 64, 0, 1, 1)],
  ['ctx: no such device', pkt('tail', 0), md(0, 64, 0, 4242)],
  ['20000 bytes: the fifth fragment grows', pkt('tail', 100, 20000)],
  ['17 fragments (73152 bytes)', pkt('tail', -5, 73152)],
  ['18 fragments (ENOMEM)', pkt('tail', 0, 73153)],
  ['ctx: no linear part, 17 fragments and a byte', pkt('tail', 0, 17 * 4096 + 1), md()],
];
/** The output buffer both sides get (bpftool's data_size_out; its default, 32768, is too small for the largest cases). */
const DATA_SIZE_OUT = 80000;

describe('differential: XDP frame edges and struct xdp_md in test runs agree with the kernel', function () {
  this.timeout(120_000);
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-adjust-'));
  const file = join(REPO_ROOT, 'bpf', 'xdp_adjust.o');
  let k: Kernel;
  let fd = 0;
  before(function () {
    const why = bt('version').error ? 'bpftool is not installed' : process.getuid?.() !== 0 ? 'not root' : kernelBpffs();
    if (why) {
      console.log(`  XDP adjust differential: SKIPPED: ${why}`);
      this.skip();
    }
    mkdirSync(DIR, { recursive: true });
    assert.equal(bt('prog', 'loadall', file, `${DIR}/p`).status, 0);
    k = new Kernel({ ncpus: 1 });
    fd = loadCollection(k.process, readCollection(readFileSync(file), { name: 'xdp_adjust.o' })).programs.get('xdp_adjust')!;
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  for (const [name, data, ctx] of CASES) {
    it(name, () => {
      const f = (n: string) => join(tmp, n);
      writeFileSync(f('in'), data);
      for (const n of ['out', 'ctxout']) rmSync(f(n), { force: true });
      if (ctx) writeFileSync(f('ctx'), ctx);
      const kr = bt(
        '-j',
        'prog',
        'run',
        'pinned',
        `${DIR}/p/xdp_adjust`,
        'data_in',
        f('in'),
        'data_out',
        f('out'),
        'data_size_out',
        String(DATA_SIZE_OUT),
        ...(ctx ? ['ctx_in', f('ctx'), 'ctx_out', f('ctxout')] : []),
      );
      const a = {
        prog_fd: fd,
        data_in: data,
        data_out: new Uint8Array(DATA_SIZE_OUT),
        retval: 0,
        data_size_out: 0,
        ...(ctx ? { ctx_in: ctx, ctx_out: new Uint8Array(24) } : {}),
      };
      const r = k.bpf('BPF_PROG_TEST_RUN', a);
      if (kr.status !== 0) {
        assert.equal(JSON.parse(kr.stdout).error, `failed to run program: ${r < 0 ? strerror(-r) : 'bpfbox ran it'}`);
        return;
      }
      assert.equal(r, 0, `the kernel ran it, bpfbox: ${r < 0 ? strerror(-r) : r}`);
      assert.equal(a.retval, JSON.parse(kr.stdout).retval, 'return value');
      assert.equal(
        Buffer.from(a.data_out.subarray(0, a.data_size_out)).toString('hex'),
        readFileSync(f('out')).toString('hex'),
        'data_out',
      );
      if (ctx) assert.equal(Buffer.from(a.ctx_out!).toString('hex'), readFileSync(f('ctxout')).toString('hex'), 'ctx_out');
    });
  }
});
