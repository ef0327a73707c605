// fresh.mjs: compile TypeScript only when dist/ is older than the sources (npm start runs it first).
// dist/.fresh is stamped with the time a build started: a source changed since (or during) that
// build is newer than the stamp, and so is tsconfig.json, package.json or scripts/bundle.mjs. No
// stamp, or no dist/bundle/cli/main.js: build (tsc, then the bundle: what `npm run build` does).
// Plain JavaScript, because it runs before anything is compiled.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STAMP = join(ROOT, 'dist', '.fresh');

/** newest returns the latest modification time (ms) of the .ts files under `path` (a file or a directory). */
function newest(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let t = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts') || e.name.endsWith('.json')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

const mtime = (p) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
};

const include = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')).include;
const sources = Math.max(
  ...[...include, 'tsconfig.json', 'package.json', 'scripts/bundle.mjs', 'scripts/bundleLoader.cjs'].map((p) => newest(join(ROOT, p))),
);
const stamp = mtime(STAMP);
if (stamp !== undefined && stamp >= sources && mtime(join(ROOT, 'dist', 'bundle', 'cli', 'main.js')) !== undefined) process.exit(0);

const started = new Date();
console.error('fresh: dist/ is older than the sources: tsc -p . && node scripts/bundle.mjs');
for (const step of [[join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', ROOT], [join(ROOT, 'scripts', 'bundle.mjs')]]) {
  const r = spawnSync(process.execPath, step, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
closeSync(openSync(STAMP, 'a'));
utimesSync(STAMP, started, started);
