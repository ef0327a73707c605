// bundle.mjs: the command line as three files instead of a few hundred modules, with V8's code
// cache (npm run build runs it after tsc).
//
// Start-up is most of what a person feels on a small capture, and most of start-up was Node
// loading ES modules one at a time (resolve, read, compile, link: about 170 for a replay, 110
// more in each worker thread) and compiling them from source on every run. esbuild joins tsc's
// output, dist/, into one CommonJS file per entry in dist/bundle/cli/ (the CLI, the replay
// worker, the live worker: each runs in a thread of its own, so each class still exists once
// per thread), NAME.bundle.js; yargs is inside, and the packages a command loads only when it
// needs them (prom-client, yaml, cli-progress) stay `require`s. Each entry, NAME.js, runs its
// bundle through load.js (scripts/bundleLoader.cjs), which hands V8 the code it compiled for
// that bundle at build time: a replay here runs what a replay of the sample compiled.
//
// The bundle sits as deep under the package as dist/appliance/cli/ and `import.meta.url` is
// the bundle's own URL, so paths made relative to it (package.json, native/build/…,
// ./worker.js beside the pool) mean the same in both. cliui measures text with string-width;
// its current major compiles Unicode property regexes when it loads (about 30 ms), so the
// bundle takes the major 4 that yargs' own cliui was written for (string-width-cjs, which
// measures the same for the ASCII of bpfbox's help).
//
// Whitespace and syntax are minified; names are kept, so a bug's stack still names its
// functions, and a linked source map (not in the package) gives the lines of the TypeScript
// under `node --enable-source-maps`. Plain JavaScript, because it runs right after tsc.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const OUT = 'dist/bundle/cli';
const ENTRIES = {
  main: 'dist/appliance/cli/main.js',
  worker: 'dist/appliance/datapath/worker.js',
  liveWorker: 'dist/appliance/live/liveWorker.js',
};

rmSync(ROOT + OUT, { recursive: true, force: true });
mkdirSync(ROOT + OUT, { recursive: true });
await build({
  absWorkingDir: ROOT,
  entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, path]) => [`${name}.bundle`, path])),
  outdir: OUT,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['prom-client', 'yaml', 'cli-progress'],
  // their `import()` becomes a `require` when it runs (a vm.Script has no ES module loader to ask)
  supported: { 'dynamic-import': false },
  alias: { 'string-width': 'string-width-cjs' },
  define: { 'import.meta.url': '__bpfbox_bundle_url' },
  banner: { js: "var __bpfbox_bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});
// CommonJS in a package of ES modules: the directory says so
writeFileSync(ROOT + OUT + '/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
copyFileSync(ROOT + 'scripts/bundleLoader.cjs', ROOT + OUT + '/load.js');
for (const name of Object.keys(ENTRIES)) {
  const shebang = name === 'main' ? '#!/usr/bin/env node\n' : '';
  // `--version` alone is answered here, before the bundle loads
  const version =
    name === 'main'
      ? "const a = process.argv.slice(2);\nif (a.length === 1 && (a[0] === '--version' || a[0] === '-V'))\n  process.stdout.write(JSON.parse(require('node:fs').readFileSync(require('node:path').join(__dirname, '../../../package.json'), 'utf8')).version + '\\n');\nelse "
      : '';
  writeFileSync(
    ROOT + OUT + `/${name}.js`,
    `${shebang}'use strict';\n// ${ENTRIES[name]}, bundled: see load.js\n${version}require('./load.js')('${name}');\n`,
    { mode: 0o755 },
  );
}

// the installed command (package.json's bin): Node alone takes about 100 ms to start here, so
// `bpfbox --version` is answered by the shell; the rest runs main.js in Node
const { version } = JSON.parse(readFileSync(ROOT + 'package.json', 'utf8'));
writeFileSync(
  ROOT + OUT + '/bpfbox',
  `#!/bin/sh
# bpfbox, as installed: \`--version\` here (${ENTRIES.main} would start Node for it), the rest in Node
if [ $# -eq 1 ] && { [ "$1" = --version ] || [ "$1" = -V ]; }; then echo ${JSON.stringify(version)}; exit 0; fi
self=$(readlink -f -- "$0") || self=$0
exec node "\${self%/*}/main.js" "$@"
`,
  { mode: 0o755 },
);

// the code caches: what a replay of the sample compiles, on the main thread (a short capture
// runs there) and in a worker thread
for (const [which, inline] of [
  ['main', '4194304'],
  ['worker', '0'],
]) {
  const r = spawnSync(
    process.execPath,
    [OUT + '/main.js', 'replay', 'pcaps/sample.pcap', '--obj', 'bpf/lpm_firewall.o', '--workers', '1', '--json'],
    { cwd: ROOT, env: { ...process.env, BPFBOX_CODE_CACHE_WRITE: which, BPFBOX_INLINE_BYTES: inline }, encoding: 'utf8' },
  );
  if (r.status !== 0)
    console.error(`bundle: no code cache for ${which} (the sample replay failed: ${r.stderr.trim().split('\n')[0]}); it runs without one`);
}
