import type { Engine, EngineName } from '../vm/engine.js';
import { interpreter } from '../vm/interpreter/interpreter.js';

/** engineByName returns the Engine for `--engine`. */
export function engineByName(name: EngineName): Engine {
  if (name === 'interpreter') return interpreter;
  throw new Error(`engine ${name} is not built yet`);
}
