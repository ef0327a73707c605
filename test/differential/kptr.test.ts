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
 * Differential for kptrs and bpf_kptr_xchg: test/differential/c/xdp_kptr.c (a map value with a `__kptr` and a
 * `__kptr_untrusted` task_struct pointer; xchg NULL in, load the untrusted one, bpf_task_from_pid
 * of a pid no task has) built at test time, since clang 14 (the corpus's compiler) drops
 * `btf_type_tag` from BTF: built with clang 16 the kernel and bpfbox both load it and give the
 * same return value, `results` and element; built with clang 14 (no kptr fields) both refuse it.
 */
const DIR = `/sys/fs/bpf/bpfbox_kptr_${process.pid}`;
const bt = (...a: string[]) => spawnSync('bpftool', a, { encoding: 'utf8' });
const MULTIARCH = spawnSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).stdout.trim() || 'x86_64-linux-gnu';

describe('differential: kptr fields and bpf_kptr_xchg against the kernel', function () {
  this.timeout(60_000);
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-kptr-'));
  const build = (clang: string): string => {
    const out = join(tmp, `${clang}.o`);
    const src = join(REPO_ROOT, 'test', 'differential', 'c', 'xdp_kptr.c');
    const r = spawnSync(clang, ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${MULTIARCH}`, '-c', src, '-o', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return out;
  };
  before(function () {
    const why = bt('version').error
      ? 'bpftool is not installed'
      : process.getuid?.() !== 0
        ? 'not root'
        : spawnSync('clang-16', ['--version']).error || spawnSync('clang-14', ['--version']).error
          ? 'clang-16 and clang-14 are needed'
          : kernelBpffs();
    if (why) {
      console.log(`  kptr differential: SKIPPED: ${why}`);
      this.skip();
    }
    mkdirSync(DIR, { recursive: true });
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });
  const values = (pin: string) =>
    (JSON.parse(bt('-j', 'map', 'dump', 'pinned', pin).stdout) as { value: string[] }[]).map((e) =>
      Buffer.from(e.value.map((h) => parseInt(h, 16))).toString('hex'),
    );

  it('built with clang 16: both load it, and the run gives the same return value, results and element', () => {
    const file = build('clang-16');
    const load = bt('prog', 'loadall', file, `${DIR}/prog`, 'pinmaps', `${DIR}/maps`);
    assert.equal(load.status, 0, load.stderr);
    const inFile = join(tmp, 'in.bin');
    const pkt = new Uint8Array(64);
    writeFileSync(inFile, pkt);
    const kr = bt('-j', 'prog', 'run', 'pinned', `${DIR}/prog/xdp_kptr`, 'data_in', inFile);
    assert.equal(kr.status, 0, kr.stderr);
    const theirs = { retval: JSON.parse(kr.stdout).retval, results: values(`${DIR}/maps/results`), elem: values(`${DIR}/maps/kptrs`) };

    const k = new Kernel({ ncpus: 1, runtime: { seed: 1 } });
    const l = loadCollection(k.process, readCollection(readFileSync(file), { name: 'xdp_kptr.o' }));
    const a = { prog_fd: l.programs.get('xdp_kptr')!, data_in: pkt, retval: 0 };
    assert.equal(k.bpf('BPF_PROG_TEST_RUN', a), 0);
    const look = (map: string, n: number, size: number) =>
      Array.from({ length: n }, (_, i) => {
        const v = new Uint8Array(size);
        assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: l.maps.get(map)!, key: Uint8Array.from([i, 0, 0, 0]), value: v }), 0);
        return Buffer.from(v).toString('hex');
      });
    const ours = { retval: a.retval, results: look('results', 4, 8), elem: look('kptrs', 1, 24) };
    assert.deepEqual(ours, theirs);
    assert.equal(theirs.retval, 2, 'XDP_PASS: every step ran');
  });

  it('built with clang 14 (no type tags, so no kptr): both refuse bpf_kptr_xchg on it', () => {
    const file = build('clang-14');
    const load = bt('-d', 'prog', 'loadall', file, `${DIR}/prog14`);
    assert.notEqual(load.status, 0);
    assert.match(load.stderr, /R1 has no valid kptr/);
    const k = new Kernel({ ncpus: 1, runtime: { seed: 1 } });
    assert.throws(() => loadCollection(k.process, readCollection(readFileSync(file), { name: 'xdp_kptr.o' })), /R1 has no valid kptr/);
  });
});
