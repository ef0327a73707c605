import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { Kernel } from '../../kernel/kernel.js';
import { REPO_ROOT } from '../support/paths.js';
import { kernelBpffs } from '../support/bpffs.js';

/**
 * Differential for bpf_snprintf_btf (hooks/helpers/btfShow.ts, btfPrint.ts): bpf/xdp_snprintf_btf.o
 * shows three vmlinux types (copied member for member: the kernel shows vmlinux BTF only) with
 * every BTF_F_* combination (the packet's first byte), a truncated show and three -EINVAL cases,
 * keeping each return value and string in `results`. The program runs through `bpftool prog run`
 * on the running kernel and through bpfbox's test run, once per combination; then every slot of
 * `results` must be byte-identical.
 */
const DIR = `/sys/fs/bpf/bpfbox_snprintf_btf_${process.pid}`;
const OBJ = 'xdp_snprintf_btf';
const SLOTS = 52;
const VALUE_SIZE = 488;
const bt = (...a: string[]) => spawnSync('bpftool', a, { encoding: 'utf8' });

describe('differential: bpf_snprintf_btf against the kernel (BTF_F_COMPACT, NONAME, PTR_RAW, ZERO; truncation; -EINVAL)', function () {
  this.timeout(60_000);
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-sbtf-'));
  before(function () {
    const why = bt('version').error ? 'bpftool is not installed' : process.getuid?.() !== 0 ? 'not root' : kernelBpffs();
    if (why) {
      console.log(`  snprintf_btf differential: SKIPPED: ${why}`);
      this.skip();
    }
    mkdirSync(DIR, { recursive: true });
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  it('every string and return value matches the kernel byte for byte', () => {
    const file = join(REPO_ROOT, 'bpf', `${OBJ}.o`);
    const loaded = bt('prog', 'loadall', file, `${DIR}/p`, 'pinmaps', `${DIR}/m`);
    assert.equal(loaded.status, 0, loaded.stderr);
    const k = new Kernel({ ncpus: 1, runtime: { seed: 1, clock: () => 1n } });
    const l = loadCollection(k.process, readCollection(readFileSync(file), { name: `${OBJ}.o` }));
    // one run per BTF_F_* combination: the packet's first byte
    for (let flags = 0; flags < 16; flags++) {
      const pkt = Uint8Array.from({ length: 64 }, (_, i) => (i === 0 ? flags : 0));
      writeFileSync(join(tmp, 'in.bin'), pkt);
      const kr = bt('-j', 'prog', 'run', 'pinned', `${DIR}/p/${OBJ}`, 'data_in', join(tmp, 'in.bin'));
      assert.equal(kr.status, 0, kr.stderr);
      const a = { prog_fd: l.programs.get(OBJ)!, data_in: pkt, retval: 0 };
      assert.equal(k.bpf('BPF_PROG_TEST_RUN', a), 0);
      assert.equal(a.retval, JSON.parse(kr.stdout).retval, `flags ${flags}: return value`);
    }
    const dump = JSON.parse(bt('-j', 'map', 'dump', 'pinned', `${DIR}/m/results`).stdout) as { key: string[]; value: string[] }[];
    const theirs = dump.map((e) => Buffer.from(e.value.map((h) => parseInt(h, 16))));
    const ours = Array.from({ length: SLOTS }, (_, i) => {
      const v = new Uint8Array(VALUE_SIZE);
      k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: l.maps.get('results')!, key: Uint8Array.from([i, 0, 0, 0]), value: v });
      return Buffer.from(v);
    });
    assert.equal(theirs.length, SLOTS);
    // the return value, then the string up to its NUL (the kernel leaves the bytes after it alone; so does bpfbox)
    const show = (v: Buffer) =>
      `${v.readBigInt64LE(0)} ${JSON.stringify(v.subarray(8, 8 + Math.max(0, v.indexOf(0, 8) - 8)).toString('latin1'))}`;
    let nonEmpty = 0;
    for (let i = 0; i < SLOTS; i++) {
      assert.equal(show(ours[i]), show(theirs[i]), `results[${i}] (type ${Math.floor(i / 16)}, flags ${i % 16})`);
      assert.deepEqual(ours[i], theirs[i], `results[${i}]: the whole value`);
      if (theirs[i].readBigInt64LE(0) > 0) nonEmpty++;
    }
    assert.equal(nonEmpty, 49, 'shows that printed something (48 and the truncated one)');
  });
});
