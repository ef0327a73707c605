import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { Kernel } from '../../kernel/kernel.js';
import type { ProgObject } from '../../kernel/objects.js';
import { verifierMaps } from '../../kernel/verifierMaps.js';
import { decode } from '../../vm/decode.js';
import { verify } from '../../vm/verifier/verify.js';
import { REPO_ROOT } from '../support/paths.js';

/**
 * The kernel accepts every program of the corpus (test/differential/elfLoad.test.ts loads them all), so
 * the verifier must accept each one too.
 */
describe('verifier over the corpus', () => {
  const objects = readdirSync(join(REPO_ROOT, 'bpf'))
    .filter((f) => f.endsWith('.o'))
    .sort();
  for (const f of objects) {
    it(`accepts every program of ${f}`, () => {
      const k = new Kernel();
      const loaded = loadCollection(k.process, readCollection(readFileSync(join(REPO_ROOT, 'bpf', f)), { name: f }));
      for (const [name, fd] of loaded.programs) {
        const p = k.process.fds.get(fd)!.obj as ProgObject;
        // the bytecode as loaded (the program kept has its dead code made `ja -1`, which no verifier would take)
        const insns = decode(p.bytecode);
        const v = verify(insns, {
          progType: p.type,
          ops: verifierOpsOf(p.type, p.expectedAttachType),
          maps: verifierMaps(k.process, insns),
          funcInfo: p.funcInfo.size > 0,
        });
        assert.ok(v.ok, `${f} ${name}: ${v.ok ? '' : `refused at insn ${v.insn}: ${v.message}`}`);
      }
    });
  }
});
