import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElfFile, SHF } from '../../elf/elfFile.js';
import { REPO_ROOT } from '../support/paths.js';

/**
 * The committed objects are what the pinned compiler (clang-14, bpf/Makefile) builds from the
 * committed sources: every code and data section is byte for byte the same. (Debug info holds
 * the build directory, so the files as a whole differ.)
 */
describe('the corpus objects match their sources', function () {
  this.timeout(120_000);
  it('rebuilding with bpf/Makefile gives the same code and data', function () {
    if (spawnSync('clang-14', ['--version']).error) {
      console.log('  corpus rebuild: SKIPPED: clang-14 is not installed (apt-get install clang-14)');
      this.skip();
    }
    const out = mkdtempSync(join(tmpdir(), 'bpfbox-corpus-'));
    try {
      const bpf = join(REPO_ROOT, 'bpf');
      for (const src of readdirSync(bpf).filter((f) => f.endsWith('.c'))) {
        const obj = src.replace(/\.c$/, '.o');
        // the flags of bpf/Makefile
        const cc = spawnSync(
          'clang-14',
          [
            '-O2',
            '-g',
            '-target',
            'bpf',
            `-I/usr/include/${multiarch()}`,
            '-Wall',
            '-Wno-unused-variable',
            '-c',
            join(bpf, src),
            '-o',
            join(out, obj),
          ],
          { encoding: 'utf8' },
        );
        assert.equal(cc.status, 0, cc.stderr);
        const sections = (file: string) => {
          const elf = new ElfFile(readFileSync(file));
          return new Map(
            elf.sections
              .filter((s) => s.flags & SHF.EXECINSTR || /^(\.maps|maps|license|version|\.(ro)?data.*|\.bss.*)$/.test(s.name))
              .map((s) => [s.name, Buffer.from(s.data).toString('hex')]),
          );
        };
        assert.deepEqual(sections(join(out, obj)), sections(join(bpf, obj)), `${obj} is not what ${src} builds`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

function multiarch(): string {
  return spawnSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).stdout?.trim() || 'x86_64-linux-gnu';
}
