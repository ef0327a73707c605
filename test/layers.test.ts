import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from './support/paths.js';

/**
 * LAYERS: the rooms of bpfbox from the bottom up (docs/ARCHITECTURE.md draws them). A file may
 * import from its own room and the rooms below it, never from one above: the verifier gets
 * a program type's rules handed to it (bpf_verifier_ops) rather than importing hooks/.
 * `pcaps/` (capture formats) stands beside `vm/` and imports only `uapi/`.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['uapi'],
  ['vm', 'pcaps'],
  ['maps'],
  ['hooks'],
  ['elf'],
  ['kernel'],
  ['appliance'],
  ['lib'],
  ['index.ts'],
];

const rank = (room: string): number => LAYERS.findIndex((l) => l.includes(room));

/** sources lists the TypeScript files of a room (tests and benches are not rooms). */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** importsOf returns the relative module specifiers a file imports or re-exports, types included. */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/g)) out.push(m[1]);
  for (const m of text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)) out.push(m[1]);
  for (const m of text.matchAll(/new URL\(\s*'(\.[^']+\.js)'/g)) out.push(m[1]);
  return out;
}

/** upward lists `file -> target` for every import from a room to a room above it. */
export function upward(root: string, files: readonly string[]): string[] {
  const bad: string[] = [];
  for (const f of files) {
    const from = relative(root, f).split('/')[0];
    for (const spec of importsOf(readFileSync(f, 'utf8'))) {
      const to = relative(root, resolve(dirname(f), spec)).split('/')[0];
      if (rank(to) < 0) continue; // not a room (config/schema.json)
      if (rank(to) > rank(from)) bad.push(`${relative(root, f)} -> ${spec}`);
    }
  }
  return bad;
}

describe('layers', () => {
  const rooms = LAYERS.flat().filter((r) => !r.endsWith('.ts'));
  const files = [...rooms.flatMap((r) => sources(join(REPO_ROOT, r))), join(REPO_ROOT, 'index.ts')].filter(existsSync);

  it('no file imports from a room above its own', () => {
    assert.ok(files.length > 150, `only ${files.length} source files found under ${REPO_ROOT}`);
    assert.deepEqual(upward(REPO_ROOT, files), []);
  });

  it('the check sees type-only imports, re-exports and worker URLs, and passes sideways and downward ones', () => {
    const text = [
      "import type { HookRuntime } from '../hooks/runtime.js';",
      "export { Kernel } from '../kernel/kernel.js';",
      "const w = new URL('../appliance/datapath/worker.js', import.meta.url);",
      "import { Errno } from '../uapi/errno.js';",
      "import { decode } from './decode.js';",
    ].join('\n');
    assert.deepEqual(importsOf(text), [
      '../hooks/runtime.js',
      '../kernel/kernel.js',
      '../uapi/errno.js',
      './decode.js',
      '../appliance/datapath/worker.js',
    ]);
    const pretend = join(REPO_ROOT, 'vm', 'pretend.ts');
    const bad = importsOf(text)
      .map((s) => relative(REPO_ROOT, resolve(dirname(pretend), s)).split('/')[0])
      .filter((to) => rank(to) > rank('vm'));
    assert.deepEqual(bad, ['hooks', 'kernel', 'appliance']);
  });
});
