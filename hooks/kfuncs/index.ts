import type { Helper } from '../../vm/helpers.js';
import { packetDynptrKfuncs } from './dynptr.js';
import { iterNumKfuncs } from './iterNum.js';

/** kfuncHelpers: the kfuncs bpfbox runs, registered with the helpers under their BTF ids (vm/verifier/kfuncs.ts). */
export const kfuncHelpers = (): Helper[] => [...iterNumKfuncs(), ...packetDynptrKfuncs()];
