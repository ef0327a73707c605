'use strict';
// bundleLoader.cjs becomes dist/bundle/cli/load.js: how each entry of the installed command
// (main.js, worker.js, liveWorker.js) runs its bundle, NAME.bundle.js, with V8's code cache.
//
// Node 20 compiles every ES module from its source on every start, and for a short command
// that compiling was the largest part of the time a person waits. A CommonJS bundle compiled
// through vm.Script can be given the code V8 made for it last time (`cachedData`): the
// functions a replay runs arrive compiled. scripts/bundle.mjs makes each cache once, at build
// time, by running replays with BPFBOX_CODE_CACHE_WRITE=main or =worker; nothing is written at run time, so
// a cache is as trusted as the bundle beside it.
//
// V8 refuses a cache made by another V8 or with other flags (then the bundle compiles as if
// there were none), but it checks only the source's length; a cache older than its bundle is
// therefore never used. Under `node --enable-source-maps` the bundle is required as usual, so
// a stack gives the lines of the TypeScript (Node 20 maps no vm.Script).
const { readFileSync, renameSync, statSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');

/** The CommonJS wrapper, as Node's own loader puts it around a module. */
const HEAD = '(function (exports, require, module, __filename, __dirname) {';
const TAIL = '\n})';

/** cacheFor: the cache beside a bundle, if it is at least as new as the bundle. */
function cacheFor(file) {
  try {
    if (statSync(file + '.cache').mtimeMs < statSync(file).mtimeMs) return undefined;
    return readFileSync(file + '.cache');
  } catch {
    return undefined;
  }
}

/** writeCache saves what V8 has compiled of the bundle so far (build time only: BPFBOX_CODE_CACHE_WRITE names the bundles). */
function writeCache(file, script) {
  const tmp = `${file}.cache.${process.pid}.${require('node:worker_threads').threadId}`;
  writeFileSync(tmp, script.createCachedData());
  renameSync(tmp, file + '.cache');
}

/** load runs NAME.bundle.js as a CommonJS module, with its code cache where there is one. */
module.exports = function load(name) {
  const file = join(__dirname, `${name}.bundle.js`);
  // under --enable-source-maps Node's own loader, which reads the bundle's source map, runs it (no cache)
  if (process.sourceMapsEnabled) return void require(file);
  // the bundle is ASCII (esbuild escapes the rest): latin1 reads it without decoding UTF-8
  // (and its `#!` line, which esbuild keeps from main.ts, is a comment inside the wrapper)
  const text = readFileSync(file, 'latin1');
  const source = text.startsWith('#!') ? '//' + text.slice(2) : text;
  const write = (process.env.BPFBOX_CODE_CACHE_WRITE ?? '').split(',').includes(name);
  const cachedData = write ? undefined : cacheFor(file);
  const script = new Script(HEAD + source + TAIL, { filename: file, cachedData });
  if (process.env.BPFBOX_CODE_CACHE === 'report')
    process.stderr.write(`${name}.bundle.js: code cache ${cachedData ? (script.cachedDataRejected ? 'rejected' : 'used') : 'absent'}\n`);
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, require, mod, file, __dirname);
  if (write) {
    // a worker is terminated, so it cannot save on exit: it saves while it runs
    writeCache(file, script);
    process.on('exit', () => writeCache(file, script));
    setInterval(() => writeCache(file, script), 10).unref();
  }
};
