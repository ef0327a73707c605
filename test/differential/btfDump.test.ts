import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bpfbox, tempState } from '../appliance/cliSupport.js';
import { REPO_ROOT } from '../support/paths.js';
import { kernelBpffs } from '../support/bpffs.js';

/**
 * Differential: maps that BTF describes dump with typed values ("formatted" in -j, a JSON
 * document in plain output) the same way through bpftool and through bpfbox, after the same
 * update, for every map of the corpus that bpftool can open and update.
 */
const DIR = `/sys/fs/bpf/bpfbox_btf_${process.pid}`;
const bt = (...a: string[]) => spawnSync('bpftool', a, { encoding: 'utf8' });

describe('differential: typed (BTF) map dumps match bpftool', function () {
  this.timeout(120_000);
  before(function () {
    const why = bt('version').error ? 'bpftool is not installed' : process.getuid?.() !== 0 ? 'not root' : kernelBpffs();
    if (why) {
      console.log(`  BTF dump differential: SKIPPED: ${why}`);
      this.skip();
    }
    mkdirSync(DIR, { recursive: true });
  });
  after(() => rmSync(DIR, { recursive: true, force: true }));

  for (const obj of ['xdp_simple', 'sock_proto', 'global_data', 'lpm_firewall']) {
    it(`${obj}.o`, () => {
      const state = tempState();
      const progs = `${DIR}/${obj}`;
      const maps = `${DIR}/${obj}_maps`;
      const file = join(REPO_ROOT, 'bpf', `${obj}.o`);
      assert.equal(bt('prog', 'loadall', file, progs, 'pinmaps', maps).status, 0);
      bpfbox(state, 'map', 'show'); // make the state directory
      mkdirSync(join(state, DIR.slice('/sys/fs/bpf/'.length)), { recursive: true });
      const ours = bpfbox(state, 'prog', 'loadall', file, progs, 'pinmaps', maps);
      assert.equal(ours.code, 0, ours.err);
      let compared = 0;
      for (const m of readdirSync(maps)) {
        const show = JSON.parse(bt('-j', 'map', 'show', 'pinned', `${maps}/${m}`).stdout || '{}');
        if (!show.id || show.flags & 0x400 || !['array', 'hash', 'percpu_array', 'lpm_trie'].includes(show.type)) continue; // mmapable global data: bpftool cannot open it for writing
        const key = show.type === 'lpm_trie' ? ['24', '0', '0', '0', '10', '1', '2', '0'] : ['1', '0', '0', '0'];
        const value = Array.from({ length: show.bytes_value }, (_, i) => String((i * 37 + 5) & 0xff));
        const upd = ['map', 'update', 'pinned', `${maps}/${m}`, 'key', ...key, 'value', ...value];
        assert.equal(bt(...upd).status, 0, `bpftool ${upd.join(' ')}`);
        assert.equal(bpfbox(state, ...upd).code, 0);
        for (const json of [false, true]) {
          const args = [...(json ? ['-j'] : []), 'map', 'dump', 'pinned', `${maps}/${m}`];
          const k = bt(...args).stdout.trim();
          const b = bpfbox(state, ...args).out.trim();
          assert.equal(b, k, `${obj} ${m}${json ? ' -j' : ''}`);
        }
        compared++;
      }
      assert.ok(compared >= 1, `${obj}: compared ${compared} maps`);
    });
  }
});
