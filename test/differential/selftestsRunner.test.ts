import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { annotationsOf } from '../../bench/selftests/annotations.js';
import { compile, prepareIncludes } from '../../bench/selftests/build.js';
import { causeOf, lastLogLine } from '../../bench/selftests/logLine.js';
import { buildKload, runBpfbox, runKernel } from '../../bench/selftests/sides.js';

/**
 * The selftests differential runner (npm run differential:selftests) on one of the kernel's own
 * files, verifier_and.c: its annotations (written by the kernel's developers, an independent
 * source) say two programs fail with `R0 max value is outside of the allowed memory range`
 * and one loads with retval 0; the runner's kernel side must read exactly that from the
 * running kernel, and its bpfbox side must give a decision for every program.
 */
const KSRC = '/work/ksrc/linux-source-6.12';

describe('differential:selftests runner', function () {
  this.timeout(120_000);

  it('takes the reason, not the statistics or the states, as a log final line', () => {
    const log = 'infinite loop detected at insn 1\ncur state: R0=P0 R10=fp0\nold state: R0=P0 R10=fp0\nprocessed 5 insns (limit 1000000)\n';
    assert.equal(lastLogLine(log), 'infinite loop detected at insn 1');
    assert.equal(lastLogLine("0: (b7) r0 = 0\nR7 invalid mem access 'scalar'\nprocessed 2 insns\n"), "R7 invalid mem access 'scalar'");
    assert.equal(
      causeOf('invalid access to packet, off=2 size=2, R7(id=11,off=2,r=0)'),
      'invalid access to packet, off=# size=#, R#(id=#,off=#,r=#)',
    );
  });

  describe('on verifier_and.c', function () {
    let cache = '';
    let obj = '';
    before(async function () {
      let why = '';
      if (process.getuid?.() !== 0) why = 'not root';
      else if (!existsSync(join(KSRC, 'tools/testing/selftests/bpf/progs/verifier_and.c'))) why = `no kernel source at ${KSRC}`;
      else if (spawnSync('clang-16', ['--version']).error) why = 'clang-16 is not installed';
      else if (spawnSync('bpftool', ['version']).error) why = 'bpftool is not installed';
      if (why) {
        console.log(`  selftests runner: SKIPPED: ${why}`);
        this.skip();
      }
      cache = mkdtempSync(join(tmpdir(), 'bpfbox-selftests-'));
      const r = await compile(cache, prepareIncludes(cache, KSRC), KSRC, 'verifier_and.c');
      assert.equal(r.error, undefined);
      obj = r.obj!;
    });
    after(() => cache && rmSync(cache, { recursive: true, force: true }));

    it('reads the annotations from the object BTF', () => {
      const a = annotationsOf(obj);
      assert.equal(a.get('invalid_and_of_negative_number')?.expect, 'failure');
      assert.deepEqual(a.get('invalid_range_check')?.msgs, ['R0 max value is outside of the allowed memory range']);
      assert.equal(a.get('known_subreg_with_unknown_reg')?.retval, '0');
    });

    it('gets the running kernel decision, errno, final line and test-run retval per program', async () => {
      const k = await runKernel(buildKload(cache, KSRC, 'debian').tool, obj, ['known_subreg_with_unknown_reg']);
      const byName = Object.fromEntries(k.map((r) => [r.name, r]));
      assert.deepEqual(Object.keys(byName).sort(), [
        'invalid_and_of_negative_number',
        'invalid_range_check',
        'known_subreg_with_unknown_reg',
      ]);
      for (const n of ['invalid_and_of_negative_number', 'invalid_range_check']) {
        assert.equal(byName[n].stage, 'verifier');
        assert.equal(byName[n].errno, 13);
        assert.equal(byName[n].msg, 'R0 max value is outside of the allowed memory range');
      }
      assert.equal(byName.known_subreg_with_unknown_reg.stage, 'ok');
      assert.equal(byName.known_subreg_with_unknown_reg.retval, '0');
    });

    it('gets a bpfbox decision for every program, within the bound', async () => {
      const b = await runBpfbox(obj, [], 10_000);
      assert.equal(b.object, undefined);
      assert.deepEqual(b.programs.map((p) => p.name).sort(), [
        'invalid_and_of_negative_number',
        'invalid_range_check',
        'known_subreg_with_unknown_reg',
      ]);
      const bad = b.programs.find((p) => p.name === 'invalid_range_check')!;
      assert.equal(bad.outcome, 'reject');
      assert.equal(bad.errno, 13);
    });
  });
});
