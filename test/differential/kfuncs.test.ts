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
import { kernelBpffs } from '../support/bpffs.js';
import { PACKETS } from '../support/packets.js';
import { REPO_ROOT } from '../support/paths.js';

/**
 * Differential: bpf/kfuncs.o's programs (an open-coded numeric iterator, an XDP dynptr and its
 * slice, a weak kfunc no kernel has) test-run on the running kernel through `bpftool prog run`
 * and in bpfbox (interpreter and JIT) over the packet set: the same return value and bytes.
 */
const DIR = `/sys/fs/bpf/bpfbox_kfuncs_${process.pid}`;
const bt = (...a: string[]) => spawnSync('bpftool', a, { encoding: 'utf8' });
const FILE = join(REPO_ROOT, 'bpf', 'kfuncs.o');

describe('differential: kfunc programs test-run as on the kernel', function () {
  this.timeout(120_000);
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-kfuncs-'));
  before(function () {
    const why = bt('version').error ? 'bpftool is not installed' : process.getuid?.() !== 0 ? 'not root' : kernelBpffs();
    if (why) {
      console.log(`  kfuncs differential: SKIPPED: ${why}`);
      this.skip();
    }
    mkdirSync('/sys/fs/bpf', { recursive: true });
    const l = bt('prog', 'loadall', FILE, DIR);
    if (l.status !== 0) {
      console.log(`  kfuncs differential: SKIPPED: the running kernel does not load bpf/kfuncs.o: ${l.stderr.trim().split('\n').pop()}`);
      this.skip();
    }
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  for (const prog of ['iter_sum', 'dynptr_proto', 'weak_absent'])
    it(prog, () => {
      const sides = [interpreter, jit].map((engine) => {
        const k = new Kernel({ ncpus: 1, runtime: { seed: 1, clock: () => 1n, engine } });
        return { k, l: loadCollection(k.process, readCollection(readFileSync(FILE), { name: 'kfuncs.o' })), engine: engine.name };
      });
      let compared = 0;
      for (const [name, pkt] of Object.entries(PACKETS)) {
        const inFile = join(tmp, 'in.bin');
        const outFile = join(tmp, 'out.bin');
        writeFileSync(inFile, pkt);
        rmSync(outFile, { force: true });
        const kr = bt('-j', 'prog', 'run', 'pinned', `${DIR}/${prog}`, 'data_in', inFile, 'data_out', outFile);
        for (const { k, l, engine } of sides) {
          const a = { prog_fd: l.programs.get(prog)!, data_in: pkt, data_out: new Uint8Array(16384), retval: 0, data_size_out: 0 };
          const r = k.bpf('BPF_PROG_TEST_RUN', a);
          if (kr.status !== 0) {
            assert.ok(r < 0, `${name} (${engine}): the kernel refused (${kr.stdout.trim()}), bpfbox ran it`);
            continue;
          }
          assert.equal(r, 0, `${name} (${engine}): the kernel ran it, bpfbox refused: ${r}`);
          assert.equal(a.retval, JSON.parse(kr.stdout).retval, `${name} (${engine}): return value`);
          assert.equal(
            Buffer.from(a.data_out.subarray(0, a.data_size_out)).toString('hex'),
            readFileSync(outFile).toString('hex'),
            `${name} (${engine}): data_out`,
          );
          compared++;
        }
      }
      assert.ok(compared > 0, 'no packet was compared');
    });
});
