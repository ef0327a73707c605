import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';

/**
 * scripts/fresh.mjs (npm start's check) in a scratch checkout whose "tsc" and scripts/bundle.mjs
 * are stubs that count their runs: it builds (tsc, then the bundle) when there is no stamp, not
 * when dist/ is current, and again after a source changes; a failed compile bundles nothing and
 * leaves no stamp.
 */
describe('scripts/fresh.mjs: npm start compiles only when dist/ is older than the sources', () => {
  let root: string;
  const count = (f: string) => (existsSync(join(root, f)) ? readFileSync(join(root, f), 'utf8').length : 0);
  const runs = () => count('tsc-runs');
  const bundles = () => count('bundle-runs');
  const fresh = () => spawnSync(process.execPath, [join(root, 'scripts', 'fresh.mjs')], { encoding: 'utf8' });
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'bpfbox-fresh-'));
    mkdirSync(join(root, 'scripts'));
    copyFileSync(join(REPO_ROOT, 'scripts', 'fresh.mjs'), join(root, 'scripts', 'fresh.mjs'));
    writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ include: ['src'] }));
    writeFileSync(join(root, 'package.json'), '{"type":"module"}');
    mkdirSync(join(root, 'src'));
    writeFileSync(join(root, 'src', 'a.ts'), 'export const a = 1;\n');
    mkdirSync(join(root, 'node_modules', 'typescript', 'bin'), { recursive: true });
    writeFileSync(
      join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      [
        "const { appendFileSync, mkdirSync, writeFileSync, existsSync } = require('node:fs');",
        'const root = process.argv[3];',
        "appendFileSync(root + '/tsc-runs', 'x');",
        "if (existsSync(root + '/fail')) process.exit(2);",
        "mkdirSync(root + '/dist/appliance/cli', { recursive: true });",
        "writeFileSync(root + '/dist/appliance/cli/main.js', '');",
      ].join('\n'),
    );
    writeFileSync(join(root, 'node_modules', 'typescript', 'package.json'), '{"type":"commonjs"}');
    writeFileSync(
      join(root, 'scripts', 'bundle.mjs'),
      [
        "import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';",
        "const root = new URL('..', import.meta.url).pathname;",
        "appendFileSync(root + 'bundle-runs', 'x');",
        "mkdirSync(root + 'dist/bundle/cli', { recursive: true });",
        "writeFileSync(root + 'dist/bundle/cli/main.js', '');",
      ].join('\n'),
    );
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('compiles without a stamp, not when current, again after a source changes', () => {
    assert.equal(fresh().status, 0);
    assert.equal(runs(), 1);
    assert.equal(bundles(), 1);
    assert.ok(existsSync(join(root, 'dist', '.fresh')));
    assert.equal(fresh().status, 0);
    assert.equal(runs(), 1, 'dist/ was current: no compile');
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(root, 'src', 'a.ts'), later, later);
    assert.equal(fresh().status, 0);
    assert.equal(runs(), 2, 'a newer source: a compile');
    assert.equal(bundles(), 2, 'and a bundle');
    rmSync(join(root, 'dist', 'bundle'), { recursive: true });
    assert.equal(fresh().status, 0);
    assert.equal(bundles(), 3, 'no bundle: a build');
  });

  it('a failed compile exits non-zero and leaves dist/ stale', () => {
    rmSync(join(root, 'dist', '.fresh'));
    writeFileSync(join(root, 'fail'), '');
    const before = runs();
    const bundled = bundles();
    assert.equal(fresh().status, 2);
    assert.equal(existsSync(join(root, 'dist', '.fresh')), false);
    assert.equal(bundles(), bundled, 'a failed compile: no bundle');
    rmSync(join(root, 'fail'));
    assert.equal(fresh().status, 0);
    assert.equal(runs(), before + 2);
    assert.equal(bundles(), bundled + 1);
  });
});
