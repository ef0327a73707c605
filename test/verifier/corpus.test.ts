import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { loadCollection } from '../../elf/load.js';
import { MapType } from '../../maps/mapType.js';
import { Kernel } from '../../maps/kernel.js';
import type { MapObject, ProgObject } from '../../maps/objects.js';
import { type MapInfo, entryState } from '../../vm/verifier/state.js';
import { verifyPaths } from '../../vm/verifier/walk.js';
import { REPO_ROOT } from '../support/paths.js';

/**
 * The kernel accepts every program of the corpus (test/elfKernel.test.ts loads them all), so
 * the verifier walk must never refuse one: it accepts it or says what it does not model yet.
 */
describe('verifier walk over the corpus', () => {
  const objects = readdirSync(join(REPO_ROOT, 'bpf')).filter((f) => f.endsWith('.o')).sort();
  it('refuses none of the corpus programs; accepts those it models whole', () => {
    const accepted: string[] = [];
    for (const f of objects) {
      const k = new Kernel();
      const loaded = loadCollection(k.process, readCollection(readFileSync(join(REPO_ROOT, 'bpf', f)), { name: f }));
      const maps: MapInfo[] = [];
      for (const [, fd] of loaded.maps) {
        const o = k.process.fds.get(fd)!.obj as MapObject;
        maps[fd] = { keySize: o.spec.keySize, valueSize: o.spec.valueSize, ofMaps: o.spec.type === MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS || o.spec.type === MapType.BPF_MAP_TYPE_HASH_OF_MAPS, array: o.spec.type === MapType.BPF_MAP_TYPE_ARRAY, maxEntries: o.spec.maxEntries, readonlyProg: ((o.spec.flags ?? 0) & 0x80) !== 0 };
      }
      for (const [name, fd] of loaded.programs) {
        const p = k.process.fds.get(fd)!.obj as ProgObject;
        const v = verifyPaths(p.program.insns, p.type, entryState(), undefined, maps);
        assert.ok(!('ok' in v) || v.ok, `${f} ${name}: refused at insn ${'insn' in v ? v.insn : '?'}: ${'message' in v ? v.message : ''}`);
        if ('ok' in v && v.ok) accepted.push(`${f}:${name}`);
      }
    }
    // today: the programs without helper calls other than map lookups
    assert.ok(accepted.includes('lpm_firewall.o:xdp_firewall') && accepted.includes('core_ctx.o:xdp_core'), accepted.join(', '));
  });
});
