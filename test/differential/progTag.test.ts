import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProgType } from '../../uapi/progType.js';
import { Kernel } from '../../kernel/kernel.js';
import { MapType } from '../../uapi/mapType.js';
import { REPO_ROOT } from '../support/paths.js';
import { kernelBpffs } from '../support/bpffs.js';

/**
 * Differential: clang compiles a program, bpftool loads it into the running kernel and shows
 * its tag; bpfbox loads the same instructions (map references resolved as libbpf resolves
 * them: src BPF_PSEUDO_MAP_FD, imm the map's fd) and must compute the same tag.
 */
describe('differential: program tags match the kernel', function () {
  this.timeout(60_000);
  let why = '';
  const dir = mkdtempSync(join(tmpdir(), 'bpfbox-tag-'));
  const pinDir = `/sys/fs/bpf/bpfbox_tag_${process.pid}`;
  const multiarch = spawnSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).stdout?.trim() || 'x86_64-linux-gnu';

  before(function () {
    for (const tool of ['clang', 'llvm-objcopy', 'bpftool']) {
      if (spawnSync(tool, ['--version'], { encoding: 'utf8' }).error) why ||= `${tool} is not installed`;
    }
    if (!why && process.getuid?.() !== 0) why = 'not root';
    why ||= kernelBpffs();
    if (why) {
      console.log(`  tag differential: SKIPPED: ${why}`);
      this.skip();
    }
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(pinDir, { recursive: true, force: true });
  });

  for (const [file, prog, section] of [
    ['tag_plain.c', 'xdp_len', 'xdp'],
    ['tag_map.c', 'xdp_count', 'xdp'],
  ] as const) {
    it(`${file}: ${prog}`, function () {
      const obj = join(dir, `${prog}.o`);
      const cc = spawnSync(
        'clang',
        ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${multiarch}`, '-c', join(REPO_ROOT, 'test', 'differential', 'c', file), '-o', obj],
        { encoding: 'utf8' },
      );
      assert.equal(cc.status, 0, cc.stderr);
      rmSync(pinDir, { recursive: true, force: true });
      const load = spawnSync('bpftool', ['prog', 'loadall', obj, pinDir], { encoding: 'utf8' });
      if (load.status !== 0) {
        console.log(`  tag differential: SKIPPED ${file}: the kernel refused it: ${load.stderr.trim()}`);
        this.skip();
      }
      const show = JSON.parse(spawnSync('bpftool', ['-j', 'prog', 'show', 'pinned', `${pinDir}/${prog}`], { encoding: 'utf8' }).stdout);
      const raw = join(dir, `${prog}.bin`);
      assert.equal(spawnSync('llvm-objcopy', ['-O', 'binary', `--only-section=${section}`, obj, raw]).status, 0);
      const insns = Uint8Array.from(readFileSync(raw));
      const k = new Kernel();
      const mapFd = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 8, max_entries: 4 });
      for (let i = 0; i < insns.length; i += 8) {
        if (insns[i] === 0x18) {
          insns[i + 1] = (insns[i + 1] & 0x0f) | 0x10; // src = BPF_PSEUDO_MAP_FD, as libbpf relocates it
          new DataView(insns.buffer).setUint32(i + 4, mapFd, true);
          i += 8;
        }
      }
      const fd = k.bpf('BPF_PROG_LOAD', { prog_type: ProgType.BPF_PROG_TYPE_XDP, insns, license: 'GPL' });
      assert.ok(fd > 0, `load: ${fd}`);
      assert.equal(k.process.progOf(fd).tag, show.tag);
    });
  }
});
