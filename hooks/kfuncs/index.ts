import type { Helper } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';
import { conntrackKfuncs } from './conntrack.js';
import { packetDynptrKfuncs } from './dynptr.js';
import { iterBitsKfuncs } from './iterBits.js';
import { iterNumKfuncs } from './iterNum.js';
import { kernelObjectKfuncs } from './kernelObjects.js';

/** kfuncHelpers: the kfuncs bpfbox runs (`rt`: the runtime whose packet they see), registered with the helpers under their BTF ids (vm/verifier/kfuncs.ts). */
export const kfuncHelpers = (rt?: HookRuntime): Helper[] => [
  ...iterNumKfuncs(),
  ...iterBitsKfuncs(),
  ...packetDynptrKfuncs(rt),
  ...kernelObjectKfuncs(),
  ...conntrackKfuncs(),
];
