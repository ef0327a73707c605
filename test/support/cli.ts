import { statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

/**
 * CLI: the `bpfbox` command as installed, the bundle scripts/bundle.mjs makes of tsc's output
 * (`npm run build`). A bundle older than that output would test yesterday's code: refused here,
 * saying what to run (`npx tsc -p .` alone leaves it stale).
 */
export const CLI = join(REPO_ROOT, 'dist', 'bundle', 'cli', 'main.js');
{
  const tscOut = join(REPO_ROOT, 'dist', 'appliance', 'cli', 'main.js');
  const age = (p: string) => {
    try {
      return statSync(p).mtimeMs;
    } catch {
      return undefined;
    }
  };
  const bundled = age(CLI);
  if (bundled === undefined || bundled < (age(tscOut) ?? 0))
    throw new Error(`${CLI} is missing or older than tsc's output: run \`npm run build\` (tsc, then the bundle)`);
}
