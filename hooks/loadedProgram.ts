import type { ShowBtf } from './helpers/btfShow.js';
import type { ProgramMaps } from '../maps/programSide.js';
import type { VerifiedProgram } from '../vm/verifier/verified.js';

/**
 * LoadedProgram is what a hook needs of a loaded program (the part of the kernel's
 * `struct bpf_prog` that running it touches): its id and type, the verified program, the maps
 * its `lddw`s name, and the run counters `bpf_stats_enabled` keeps. kernel/objects.ts's
 * ProgObject is one; hooks never see the object table itself.
 */
export interface LoadedProgram extends ProgramMaps {
  readonly id: number;
  readonly type: number;
  readonly program: VerifiedProgram;
  /** The object's BTF types, when its loader gave them: the types bpf_snprintf_btf's ids name. */
  readonly btf?: ShowBtf;
  runCnt: number;
  runTimeNs: number;
}
