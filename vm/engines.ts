import type { Engine, EngineName } from './engine.js';
import { interpreter } from './interpreter/interpreter.js';
import { jit } from './jit/jit.js';

/** ENGINES: the names `--engine` takes. */
export const ENGINES: readonly EngineName[] = ['interpreter', 'jit'];

/**
 * DEFAULT_ENGINE: what runs programs when nothing chooses: the JIT, which passes everything the
 * interpreter passes (the conformance suite, the shared unit suites, the kernel differentials,
 * 100,000 random programs against the interpreter). The interpreter stays the reference, and
 * the one engine that traces instructions (conformance --trace).
 */
export const DEFAULT_ENGINE: EngineName = 'jit';

/** engineByName returns the Engine for `--engine`. */
export function engineByName(name: EngineName): Engine {
  return name === 'jit' ? jit : interpreter;
}
