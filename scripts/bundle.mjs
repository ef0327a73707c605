// bundle.mjs: the command line as a few files instead of a few hundred modules (npm run build runs it after tsc).
//
// Start-up is most of what a person feels on a small capture, and most of start-up was Node
// loading ES modules one at a time (resolve, read, compile, link: about 170 for a replay, 110
// more in each worker thread). esbuild joins tsc's output, dist/, into dist/bundle/cli/: one
// file per entry (the CLI, the replay worker, the live worker) and shared chunks for the code
// they share (code splitting, so each class exists once and `instanceof` holds across
// chunks). What a command imports lazily stays lazy: it is a chunk of its own.
//
// The bundle sits as deep under the package as dist/appliance/cli/, so paths made relative to
// import.meta.url (package.json, native/build/…, ./worker.js beside the pool) mean the same in
// both. Packages in node_modules stay imports (yargs, prom-client, yaml load as they did).
//
// Whitespace and syntax are minified (Node compiles every byte of a module it loads: about a
// fifth less CPU for a short replay); names are kept, so a bug's stack still names its
// functions, and a linked source map (not in the package) gives the lines of the TypeScript
// under `node --enable-source-maps`. Plain JavaScript, because it runs right after tsc.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const OUT = 'dist/bundle/cli';

rmSync(ROOT + OUT, { recursive: true, force: true });
await build({
  absWorkingDir: ROOT,
  entryPoints: ['dist/appliance/cli/main.js', 'dist/appliance/datapath/worker.js', 'dist/appliance/live/liveWorker.js'],
  outdir: OUT,
  entryNames: '[name]',
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});
