import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
import { runBoth } from '../support/runBoth.js';

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
        compared += runBoth(`${DIR}/${prog}`, prog, sides, name, pkt, tmp);
      }
      assert.ok(compared > 0, 'no packet was compared');
    });
});
