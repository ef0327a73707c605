import type { Member } from '../../elf/btf.js';
import type { LinkObject, ProgObject } from '../objects.js';

/**
 * StructOpsKdata is the kernel's copy of a struct_ops value's data (`kvalue.data`): the struct's
 * bytes as the subsystem sees them (members init_member took, zeros elsewhere, program ids in
 * the function-pointer slots where the kernel has trampolines) and the programs by member name.
 */
export interface StructOpsKdata {
  readonly bytes: Uint8Array;
  readonly progs: ReadonlyMap<string, ProgObject>;
}

/**
 * StructOpsDesc is a subsystem users program with struct_ops: the kernel's `struct
 * bpf_struct_ops` (include/linux/bpf.h). `name` is the struct's name in the base BTF; the value
 * type is `struct bpf_struct_ops_<name>`. The callbacks answer 0 or a negative errno as the
 * kernel's do; `update` absent means a link cannot swap maps (EOPNOTSUPP).
 */
export interface StructOpsDesc {
  readonly name: string;
  /** check_member: may a program be loaded for this member (BPF_PROG_LOAD): 0 or -errno. */
  checkMember?(member: Member, index: number): number;
  /**
   * init_member: copy a member from the user's data (`udata`) to the kernel's (`kdata`): 1 when
   * handled, 0 to leave it to the generic rule (function pointers take programs, the rest must
   * be zero), or -errno.
   */
  initMember(member: Member, udata: Uint8Array, kdata: Uint8Array): number;
  /** validate: the whole struct after every member: 0 or -errno (a BPF_F_LINK map is checked here too). */
  validate?(kdata: StructOpsKdata): number;
  /** reg: register with the subsystem (a map update, or a link for BPF_F_LINK maps): 0 or -errno. */
  reg(kdata: StructOpsKdata, link?: LinkObject): number;
  /** unreg: unregister (a map delete, a link's detach or release). */
  unreg(kdata: StructOpsKdata, link?: LinkObject): void;
  /** update: a link swaps `old` for `kdata` atomically: 0 or -errno. */
  update?(kdata: StructOpsKdata, old: StructOpsKdata, link?: LinkObject): number;
  /** The kfuncs programs for each member may call, by member name (the kernel's per-struct_ops kfunc id sets). */
  readonly kfuncs?: Readonly<Record<string, readonly string[]>>;
}

/** cString reads a NUL-terminated name from `bytes` (at most `size` bytes from `off`). */
export function cString(bytes: Uint8Array, off: number, size: number): string {
  const s = bytes.subarray(off, off + size);
  const end = s.indexOf(0);
  return new TextDecoder().decode(end < 0 ? s : s.subarray(0, end));
}
