import assert from 'node:assert/strict';
import { SoundnessBench } from '../support/soundness.js';

/**
 * Soundness: random programs (test/support/progGen.ts) go through BPF_PROG_LOAD; each one the
 * verifier accepts runs in the interpreter over packets of 14, 60 and 200 bytes while every
 * load and store is checked against the objects the program may touch at that moment (its
 * stack frame, the context, the packet, the map values lookups returned). None may fault,
 * run away or touch anything else. `npm run bench -- verifier-soundness` runs 100,000.
 */
describe('verifier soundness: accepted random programs stay in bounds at run time', function () {
  this.timeout(120_000);
  it('1,000 random programs: no accepted one faults or leaves its objects', () => {
    const bench = new SoundnessBench();
    let accepted = 0;
    const violations: string[] = [];
    for (let seed = 0; seed < 1000; seed++) {
      const r = bench.check(seed);
      if (r.accepted) accepted++;
      if (r.violation) violations.push(`seed ${r.violation.seed}: ${r.violation.what}\n${r.violation.text}`);
    }
    assert.deepEqual(violations.slice(0, 3), []);
    // the generator sits on the edges: a good share of each answer, so both are exercised
    assert.ok(accepted > 150 && accepted < 850, `${accepted} of 1000 accepted`);
  });
});
