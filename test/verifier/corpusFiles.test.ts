import assert from 'node:assert/strict';
import { join } from 'node:path';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { encode } from '../../vm/decode.js';
import { verify } from '../../vm/verifier/verify.js';
import { type CorpusProgram, readCorpus } from '../support/corpusFile.js';
import { KernelProbe } from '../support/kernelProbe.js';
import { REPO_ROOT } from '../support/paths.js';
import { PROBE_MAPS, lastLine } from '../support/verdict.js';

/**
 * The verifier corpora (test/fixtures/verifier/*.txt): every program gets the answer recorded
 * from the kernel (errno, the instruction, the log's last line); where BPF is available the
 * running kernel is asked again and must still agree, so the recorded answers stay honest.
 */
const dir = join(REPO_ROOT, 'test', 'fixtures', 'verifier');
const unsafe = readCorpus(join(dir, 'unsafe.txt'));
const safe = readCorpus(join(dir, 'safe.txt'));

function ours(p: CorpusProgram): string {
  const v = verify(p.insns, { progType: p.type, ops: verifierOpsOf(p.type), maps: PROBE_MAPS });
  return v.ok ? 'ok' : `err ${v.errno} @${v.insn} ${lastLine(v.log)}`;
}

describe('verifier corpora', function () {
  this.timeout(120_000);

  it(`refuses each of the ${unsafe.length} unsafe programs with the kernel's errno, instruction and message`, () => {
    const wrong = unsafe
      .filter((p) => ours(p) !== p.expect)
      .map((p) => `line ${p.line} ${p.name}: expected "${p.expect}", got "${ours(p)}"`);
    assert.deepEqual(wrong, []);
    assert.ok(unsafe.length >= 150 && unsafe.every((p) => p.expect !== 'ok'));
  });

  it('covers every category of unsafe program the issue lists', () => {
    const count = (c: string) => unsafe.filter((p) => p.category === c).length;
    for (const c of ['cfg', 'malformed', 'reg', 'alu', 'stack', 'ctx', 'pkt', 'map', 'helper', 'ref', 'global', 'call', 'loop']) {
      assert.ok(count(c) >= 3, `category ${c}: ${count(c)} programs`);
    }
  });

  it(`accepts each of the ${safe.length} safe programs`, () => {
    const wrong = safe.filter((p) => ours(p) !== 'ok').map((p) => `line ${p.line} ${p.name}: ${ours(p)}`);
    assert.deepEqual(wrong, []);
  });

  it('differential: the running kernel gives the recorded answer for every program of both corpora', function () {
    const probe = KernelProbe.open();
    if (typeof probe === 'string') {
      console.log(`      SKIPPED (kernel differential): ${probe}`);
      this.skip();
    }
    const k = probe as KernelProbe;
    try {
      const all = [...unsafe, ...safe];
      const kernel = k.ask(
        all.map((p) => [p.type, encode(p.insns)] as const),
        true,
      );
      const wrong = all.flatMap((p, i) =>
        kernel[i] === p.expect ? [] : [`line ${p.line} ${p.name}: recorded "${p.expect}", kernel "${kernel[i]}"`],
      );
      assert.deepEqual(wrong, []);
    } finally {
      k.close();
    }
  });
});
