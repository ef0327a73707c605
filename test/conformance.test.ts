import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runConformanceDir } from '../appliance/cli/conformanceCmd.js';
import { assemble } from '../vm/asm/assembler.js';
import { parseVector } from '../vm/conformance/vector.js';
import { decode } from '../vm/decode.js';
import { opClass } from '../vm/opcodes.js';
import { CONFORMANCE_DIR, REPO_ROOT } from './support/paths.js';
import { engines } from './support/run.js';

const PROJECT_VECTORS = join(REPO_ROOT, 'test', 'fixtures', 'vectors');
const haveSuite = existsSync(join(CONFORMANCE_DIR, 'tests'));
if (!haveSuite) console.log(`  conformance: SKIPPED the public suite: ${CONFORMANCE_DIR} is not beside the checkout`);

for (const engine of engines) {
  describe(`conformance (${engine.name})`, function () {
    this.timeout(120_000);

    it('passes every vector of the public suite (../shared/conformance/tests)', function () {
      if (!haveSuite) this.skip();
      const report = runConformanceDir(join(CONFORMANCE_DIR, 'tests'), engine);
      assert.deepEqual(report.failures, []);
      assert.equal(report.passed, 313);
      assert.ok(report.outcomes.some((o) => o.file === 'callx.data' && o.passed));
    });

    it('rejects every program of the negative suite', function () {
      if (!existsSync(join(CONFORMANCE_DIR, 'negative'))) this.skip();
      const report = runConformanceDir(join(CONFORMANCE_DIR, 'negative'), engine);
      for (const o of report.outcomes) {
        const wantsError = /^error/.test(o.expected);
        if (wantsError) {
          // expected to fail: it must fail at assembly or load, with an error
          assert.ok(o.passed && /^error/.test(o.got) && o.stage !== 'run', `${o.file}: ${o.stage}: ${o.got}`);
        } else {
          // a vector whose expectation is wrong or malformed must not pass
          assert.ok(!o.passed, `${o.file} ran cleanly: ${o.got}`);
        }
      }
      assert.equal(report.outcomes.length, readdirSync(join(CONFORMANCE_DIR, 'negative')).filter((f) => f.endsWith('.data')).length);
    });

    it("passes the project's own vectors (test/fixtures/vectors)", () => {
      const report = runConformanceDir(PROJECT_VECTORS, engine);
      assert.deepEqual(report.failures, []);
      assert.ok(report.passed >= 12);
    });
  });
}

describe("the project's vectors", () => {
  it('cover every instruction class', () => {
    const classes = new Set<number>();
    for (const f of readdirSync(PROJECT_VECTORS).filter((f) => f.endsWith('.data'))) {
      const v = parseVector(f, readFileSync(join(PROJECT_VECTORS, f), 'utf8'));
      for (const i of v.raw ? decode(v.raw) : assemble(v.asm!)) classes.add(opClass(i.opcode));
    }
    assert.deepEqual([...classes].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
