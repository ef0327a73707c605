import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { ElfError } from '../../elf/elfError.js';
import { CollectionLoadError, loadCollection } from '../../kernel/loadCollection.js';
import { Kernel } from '../../kernel/kernel.js';
import { REPO_ROOT } from '../support/paths.js';

const corpus = readdirSync(join(REPO_ROOT, 'bpf'))
  .filter((f) => f.endsWith('.o'))
  .sort();
const obj = (name: string) => Uint8Array.from(readFileSync(join(REPO_ROOT, 'bpf', name)));

function rejects(bytes: Uint8Array, re: RegExp): void {
  assert.throws(
    () => readCollection(bytes, { name: 'x.o' }),
    (e: unknown) => {
      assert.ok(e instanceof ElfError, `expected an ElfError, got ${String(e)}`);
      assert.match(e.message, re);
      return true;
    },
  );
}

describe('bad objects', () => {
  const good = obj('xdp_simple.o');
  it('truncated files name where they end', () => {
    rejects(good.subarray(0, 10), /shorter than an ELF header/);
    rejects(good.subarray(0, 200), /section headers at 0x[0-9a-f]+ run past the end of the file/);
  });
  it('wrong magic, class, byte order, type or machine', () => {
    const b = Uint8Array.from(good);
    b[0] = 0;
    rejects(b, /offset 0x0: not an ELF file/);
    const c = Uint8Array.from(good);
    c[4] = 1;
    rejects(c, /ELF class 1 is not ELFCLASS64/);
    const d = Uint8Array.from(good);
    d[5] = 2;
    rejects(d, /big-endian BPF objects are not supported/);
    const e = Uint8Array.from(good);
    e[18] = 62; // EM_X86_64
    rejects(e, /offset 0x12: e_machine 62 is not EM_BPF/);
    const f = Uint8Array.from(good);
    f[16] = 2; // ET_EXEC
    rejects(f, /e_type 2 is not ET_REL/);
  });
  it('a section whose contents run past the end names the section', () => {
    const b = Uint8Array.from(good);
    const dv = new DataView(b.buffer);
    const shoff = Number(dv.getBigUint64(40, true));
    dv.setBigUint64(shoff + 64 * 2 + 32, 1n << 40n, true); // section 2's size
    rejects(b, /section #2, offset 0x[0-9a-f]+: contents at 0x[0-9a-f]+ \(\+1099511627776\) run past the end of the file/);
  });
  it('an absurd section count', () => {
    const b = Uint8Array.from(good);
    new DataView(b.buffer).setUint16(60, 0xffff, true);
    rejects(b, /absurd section count 65535/);
  });
  it('a relocation to a missing symbol names the relocation section', () => {
    const b = Uint8Array.from(good);
    const dv = new DataView(b.buffer);
    const shoff = Number(dv.getBigUint64(40, true));
    const shnum = dv.getUint16(60, true);
    for (let i = 0; i < shnum; i++) {
      if (dv.getUint32(shoff + 64 * i + 4, true) !== 9) continue; // SHT_REL
      const off = Number(dv.getBigUint64(shoff + 64 * i + 24, true));
      dv.setUint32(off + 12, 0xffff, true); // the symbol index of its first entry
      break;
    }
    rejects(b, /relocation 0 refers to missing symbol 65535/);
  });
});

describe('fuzz: random byte flips in every corpus object', function () {
  this.timeout(120_000);
  it('read and load, or fail with an ElfError (reading) or a CollectionLoadError (loading), never anything else', () => {
    let seed = 42;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    let ok = 0;
    let refused = 0;
    for (const name of corpus) {
      const base = obj(name);
      for (let round = 0; round < 300; round++) {
        const b = Uint8Array.from(base);
        const flips = 1 + rand(4);
        for (let i = 0; i < flips; i++) b[rand(b.length)] ^= 1 << rand(8);
        try {
          loadCollection(new Kernel({ ncpus: 1 }).process, readCollection(b, { name }));
          ok++;
        } catch (e) {
          if (!(e instanceof ElfError) && !(e instanceof CollectionLoadError))
            throw new Error(`${name} round ${round}: ${e instanceof Error ? e.stack : String(e)}`);
          refused++;
        }
      }
    }
    assert.ok(ok > 100 && refused > 100, `${ok} read, ${refused} refused`);
  });
});
