import type { ShowBtf } from '../hooks/helpers/btfShow.js';
import type { VerifiedProgram } from '../vm/verifier/verified.js';
import type { BpfMap } from '../maps/bpfMap.js';
import type { MapSpec } from '../maps/spec.js';
import type { StructOpsMapState } from './structOps/mapState.js';

/**
 * KernelObject is a map or a program in the kernel's object table. It lives while
 * `refs` > 0: each fd, pin, program using it and prog-array or map-of-maps slot holding it
 * counts one. `release` runs when the last one goes.
 */
abstract class KernelObject {
  refs = 0;
  readonly id: number;
  /** When the object was created (ms since the epoch); an object restored from a pin keeps its first creation's time. */
  loadedAt = Date.now();
  constructor(id: number) {
    this.id = id;
  }
}

/** MapObject: a live map and what the kernel keeps beside it. */
export class MapObject extends KernelObject {
  readonly kind = 'map' as const;
  readonly map: BpfMap;
  readonly spec: MapSpec;
  frozen = false;
  /** For a prog array: the program type its first program fixed (the kernel's owner type). */
  ownerProgType?: number;
  /** Objects held through slots (prog array programs, inner maps), by slot key in hex. */
  readonly slots = new Map<string, AnyObject>();
  /** For a BPF_MAP_TYPE_STRUCT_OPS map: its subsystem, state and programs (kernel/structOps). */
  structOps?: StructOpsMapState;

  constructor(id: number, map: BpfMap, spec: MapSpec) {
    super(id);
    this.map = map;
    this.spec = spec;
  }
}

/** ProgObject: a loaded program. */
export class ProgObject extends KernelObject {
  readonly kind = 'prog' as const;
  readonly type: number;
  /** BPF_PROG_LOAD's expected_attach_type (AttachType; 0 when not given; a struct_ops program's member index). */
  readonly expectedAttachType: number;
  /** BPF_PROG_LOAD's attach_btf_id: for a struct_ops program, its struct's id in the base BTF (0: none). */
  readonly attachBtfId: number;
  readonly name: string;
  readonly bytecode: Uint8Array;
  readonly program: VerifiedProgram;
  readonly tag: string;
  readonly license: string;
  /** Maps the program references, in first-use order (they hold one reference each). */
  readonly maps: readonly MapObject[];
  /** The fds the bytecode names its maps by (the loader's, at load time), parallel to `maps`. */
  readonly mapFds: readonly number[];
  /**
   * Maps bound to the program with BPF_PROG_BIND_MAP, beyond those it references (each holds a
   * reference): libbpf binds an object's `.rodata` to every program, so tools find its metadata.
   * The kernel keeps them in the same used_maps; `map_ids` lists both.
   */
  readonly bound: MapObject[] = [];
  /** Source lines by slot and function names by first slot, when the loader gave BTF info. */
  readonly lineInfo: ReadonlyMap<number, { line: string; file?: string; lineNum?: number; col?: number }>;
  readonly funcInfo: ReadonlyMap<number, string>;
  /** The object's BTF types, when the loader gave them (prog_btf): what bpf_snprintf_btf shows. */
  readonly btf?: ShowBtf;
  runCnt = 0;
  runTimeNs = 0;

  constructor(
    id: number,
    fields: {
      type: number;
      expectedAttachType?: number;
      attachBtfId?: number;
      name: string;
      bytecode: Uint8Array;
      program: VerifiedProgram;
      tag: string;
      license: string;
      maps: MapObject[];
      mapFds: number[];
      lineInfo?: ReadonlyMap<number, { line: string; file?: string; lineNum?: number; col?: number }>;
      funcInfo?: ReadonlyMap<number, string>;
      btf?: ShowBtf;
    },
  ) {
    super(id);
    this.type = fields.type;
    this.expectedAttachType = fields.expectedAttachType ?? 0;
    this.attachBtfId = fields.attachBtfId ?? 0;
    this.name = fields.name;
    this.bytecode = fields.bytecode;
    this.program = fields.program;
    this.tag = fields.tag;
    this.license = fields.license;
    this.maps = fields.maps;
    this.mapFds = fields.mapFds;
    this.lineInfo = fields.lineInfo ?? new Map();
    this.funcInfo = fields.funcInfo ?? new Map();
    this.btf = fields.btf;
  }

  /** gplCompatible: the kernel's license_is_gpl_compatible(). */
  get gplCompatible(): boolean {
    return licenseIsGplCompatible(this.license);
  }
}

/** licenseIsGplCompatible: the kernel's license_is_gpl_compatible(). */
export function licenseIsGplCompatible(license: string): boolean {
  return ['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL'].includes(license);
}

/**
 * LinkImpl: what a link type does (the kernel's `struct bpf_link_ops`): `release` when the last
 * reference goes (dealloc), `detach` for BPF_LINK_DETACH, `updateMap` for BPF_LINK_UPDATE with
 * a map (absent: EINVAL), `info` for BPF_OBJ_GET_INFO_BY_FD. Failures throw BpfErrno.
 */
export interface LinkImpl {
  release(): void;
  detach(): void;
  updateMap?(newMap: MapObject, expectedOld?: MapObject): void;
  info(): Readonly<Record<string, number>>;
}

/** LinkObject: a BPF link (`struct bpf_link`): an attachment with an id, held by fds and pins. */
export class LinkObject extends KernelObject {
  readonly kind = 'link' as const;
  /** enum bpf_link_type (BPF_LINK_TYPE_STRUCT_OPS 9, …). */
  readonly linkType: number;
  readonly attachType: number;
  readonly impl: LinkImpl;

  constructor(id: number, fields: { linkType: number; attachType: number; impl: LinkImpl }) {
    super(id);
    this.linkType = fields.linkType;
    this.attachType = fields.attachType;
    this.impl = fields.impl;
  }
}

/** AnyObject is a map, a program or a link. */
export type AnyObject = MapObject | ProgObject | LinkObject;
