import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** REPO_ROOT: the checkout (tests run from dist/test/...). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** CONFORMANCE_DIR: the public conformance suite in ../shared beside the checkout. */
export const CONFORMANCE_DIR = join(REPO_ROOT, '..', 'shared', 'conformance');
