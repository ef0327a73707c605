import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { Kernel } from '../../kernel/kernel.js';
import { interpreter } from '../../vm/interpreter/interpreter.js';
import { jit } from '../../vm/jit/jit.js';
import { PACKETS } from '../support/packets.js';
import { REPO_ROOT } from '../support/paths.js';
import { kernelBpffs } from '../support/bpffs.js';
import { bpfboxSlots, kernelSlots, showSlots } from '../support/resultSlots.js';

/**
 * Differential for the dynptr helpers (hooks/helpers/dynptr.ts, maps/ringbufDynptr.ts):
 * bpf/xdp_dynptr.o keeps every helper's raw answer in its `results` array (local dynptrs over a
 * map value, XDP dynptrs, ring buffer dynptrs; in and out of bounds, with flags, NULL dynptrs)
 * and rewrites the destination MAC through the XDP dynptr. Each packet runs through
 * `bpftool prog run` on the running kernel and through bpfbox's test run (interpreter and JIT); after each, the return
 * value, the output bytes and every slot of `results` must agree, among them the ring buffer's
 * byte count (BPF_RB_AVAIL_DATA), which counts every record reserved so far on both sides.
 */
const DIR = `/sys/fs/bpf/bpfbox_dynptr_${process.pid}`;
const SLOTS = 30;
const bt = (...a: string[]) => spawnSync('bpftool', a, { encoding: 'utf8' });

describe('differential: dynptr helpers against the kernel (from_mem, read, write, data, ringbuf reserve/submit/discard dynptr)', function () {
  this.timeout(120_000);
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-dynptr-'));
  before(function () {
    const why = bt('version').error ? 'bpftool is not installed' : process.getuid?.() !== 0 ? 'not root' : kernelBpffs();
    if (why) {
      console.log(`  dynptr differential: SKIPPED: ${why}`);
      this.skip();
    }
    mkdirSync(DIR, { recursive: true });
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  it('xdp_dynptr: return value, output bytes and every helper answer, packet by packet', () => {
    const obj = 'xdp_dynptr';
    const file = join(REPO_ROOT, 'bpf', `${obj}.o`);
    const pins = `${DIR}/${obj}`;
    const mapPins = `${DIR}/${obj}_maps`;
    const loaded = bt('prog', 'loadall', file, pins, 'pinmaps', mapPins);
    assert.equal(loaded.status, 0, loaded.stderr);
    // bpfbox twice: interpreted and compiled by the JIT, each against the kernel, each with its own ring
    const sides = [interpreter, jit].map((engine) => {
      const k = new Kernel({ ncpus: 1, runtime: { seed: 1, clock: () => 1n, engine } });
      return { k, l: loadCollection(k.process, readCollection(readFileSync(file), { name: `${obj}.o` })), engine: engine.name };
    });
    let compared = 0;
    for (const [name, pkt] of Object.entries(PACKETS)) {
      const inFile = join(tmp, 'in.bin');
      const outFile = join(tmp, 'out.bin');
      writeFileSync(inFile, pkt);
      rmSync(outFile, { force: true });
      const kr = bt('-j', 'prog', 'run', 'pinned', `${pins}/${obj}`, 'data_in', inFile, 'data_out', outFile);
      const theirs = kernelSlots(bt('-j', 'map', 'dump', 'pinned', `${mapPins}/results`).stdout);
      for (const { k, l, engine } of sides) {
        const at = `${name} (${engine})`;
        const a = { prog_fd: l.programs.get(obj)!, data_in: pkt, data_out: new Uint8Array(16384), retval: 0, data_size_out: 0 };
        const r = k.bpf('BPF_PROG_TEST_RUN', a);
        if (kr.status !== 0) {
          assert.ok(r < 0, `${at}: the kernel refused (${kr.stdout.trim()}), bpfbox ran it`);
          continue;
        }
        assert.equal(r, 0, `${at}: the kernel ran it, bpfbox refused: ${r}`);
        assert.equal(a.retval, JSON.parse(kr.stdout).retval, `${at}: return value`);
        assert.equal(
          Buffer.from(a.data_out.subarray(0, a.data_size_out)).toString('hex'),
          readFileSync(outFile).toString('hex'),
          `${at}: data_out`,
        );
        const ours = bpfboxSlots(k, l.maps.get('results')!, theirs.length);
        assert.equal(showSlots(ours.slice(0, SLOTS)), showSlots(theirs.slice(0, SLOTS)), `${at}: results`);
      }
      if (kr.status === 0) compared++;
    }
    assert.ok(compared >= 4, `${obj}: only ${compared} packets ran in the kernel`);
  });
});
