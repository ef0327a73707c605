import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { bpfbox, tempState } from './cliSupport.js';

/**
 * What the fuzz suite (bench/fuzz, `npm run fuzz`) found as stack traces on its first full run,
 * each now one line naming what is wrong and a non-zero exit: a NUL byte in a config's path, a
 * YAML alias with no anchor, an option given twice.
 */
const OBJ = join(REPO_ROOT, 'bpf', 'xdp_stats.o');
const SAMPLE = join(REPO_ROOT, 'pcaps', 'sample.pcap');

describe('fuzz findings: one line, no stack', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'bpfbox-fuzzfind-'));
  const state = tempState();
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });
  const oneLine = (r: { err: string; code: number }, re: RegExp) => {
    assert.notEqual(r.code, 0);
    assert.notEqual(r.code, 70, 'not a bug');
    assert.doesNotMatch(r.err, /internal error|\n\s+at /, r.err);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, re);
  };
  const config = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('a NUL byte in a path of the config names the field (was ERR_INVALID_ARG_VALUE from statSync)', () => {
    const c = config(
      'nul.yaml',
      `programs:\n  - name: s\n    obj: ${OBJ}\n    out: "\\0"\nsources:\n  - program: s\n    captures: [${SAMPLE}]\n`,
    );
    oneLine(bpfbox(state, 'replay', '--config', c), /programs\[0\]\.out: a NUL byte/);
  });
  it('an alias whose anchor is not set is the YAML error (was a ReferenceError from toJSON)', () => {
    const c = config('alias.yaml', `programs:\n  - name: s\n    obj: ${OBJ}\nsources:\n  - program: *x\n    captures: [${SAMPLE}]\n`);
    oneLine(bpfbox(state, 'replay', '--config', c), /alias\.yaml: .*alias/i);
  });
  it('--obj given twice says so (was an array taken for a path by openSync)', () => {
    oneLine(bpfbox(state, 'replay', SAMPLE, '--obj', OBJ, '--obj', OBJ), /--obj given 2 times .*: it takes one value/);
  });
});
