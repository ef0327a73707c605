import type { Engine, EngineName } from '../vm/engine.js';
import { interpreter } from '../vm/interpreter/interpreter.js';
import { jit } from '../vm/jit/jit.js';

/** ENGINES: the names `--engine` takes. */
export const ENGINES: readonly EngineName[] = ['interpreter', 'jit'];

/** engineByName returns the Engine for `--engine`. */
export function engineByName(name: EngineName): Engine {
  return name === 'jit' ? jit : interpreter;
}
