import type { ShowBtf } from '../hooks/helpers/btfShow.js';
import type { GlobalArg } from '../vm/verifier/globalFunc.js';
import type { CmdName } from '../uapi/cmd.js';
import type { LinkInfo, MapInfo, ProgInfo } from '../uapi/info.js';
import type { MapSpec } from '../maps/spec.js';
import type { MapBtf } from '../maps/typeDesc.js';

/** MapCreateAttr: BPF_MAP_CREATE. Returns a map fd. */
export interface MapCreateAttr {
  map_type: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags?: number;
  inner_map_fd?: number;
  map_name?: string;
  map_extra?: number;
  /** bpfbox's stand-in for btf_fd + btf_key_type_id + btf_value_type_id: the types themselves. */
  btf_desc?: MapBtf;
  /** A struct_ops map's value type: `struct bpf_struct_ops_<name>`'s id in the base BTF. */
  btf_vmlinux_value_type_id?: number;
  /** With BPF_F_VTYPE_BTF_OBJ_FD: the module BTF holding the value type (bpfbox has none: EINVAL). */
  value_type_btf_obj_fd?: number;
}

/**
 * mapCreateAttr is what a loader passes to BPF_MAP_CREATE for `spec` (libbpf's
 * bpf_map_create from a map definition), the inner template map given by its fd (0: none).
 */
export function mapCreateAttr(spec: MapSpec, innerFd = 0): MapCreateAttr {
  return {
    map_type: spec.type,
    key_size: spec.keySize,
    value_size: spec.valueSize,
    max_entries: spec.maxEntries,
    map_flags: spec.flags ?? 0,
    map_name: spec.name ?? '',
    map_extra: spec.mapExtra ?? 0,
    inner_map_fd: innerFd || undefined,
    btf_desc: spec.btf,
  };
}

/**
 * MapElemAttr: BPF_MAP_LOOKUP_ELEM / UPDATE_ELEM / DELETE_ELEM / LOOKUP_AND_DELETE_ELEM. `value` is the
 * output buffer for lookups and the input for updates; key is null for queues and stacks.
 */
export interface MapElemAttr {
  map_fd: number;
  key?: Uint8Array | null;
  value?: Uint8Array;
  flags?: number;
}

/** MapNextKeyAttr: BPF_MAP_GET_NEXT_KEY: `next_key` receives the key after `key` (the first for null). */
export interface MapNextKeyAttr {
  map_fd: number;
  key?: Uint8Array | null;
  next_key: Uint8Array;
}

/** ProgBindMapAttr: BPF_PROG_BIND_MAP (`prog_bind_map`: flags must be 0). */
export interface ProgBindMapAttr {
  prog_fd: number;
  map_fd: number;
  flags?: number;
}

/** MapFreezeAttr: BPF_MAP_FREEZE. */
export interface MapFreezeAttr {
  map_fd: number;
}

/**
 * MapBatchAttr: the four batch commands: `keys` and `values` hold `count` packed elements; `count` comes
 * back as the number done; `in_batch`/`out_batch` carry the position between calls (opaque,
 * key_size bytes; null to start). The last batch fails with ENOENT.
 */
export interface MapBatchAttr {
  map_fd: number;
  in_batch?: Uint8Array | null;
  out_batch?: Uint8Array;
  keys: Uint8Array;
  values?: Uint8Array;
  count: number;
  elem_flags?: number;
  flags?: number;
}

/** ProgLoadAttr: BPF_PROG_LOAD. Returns a program fd; `log_buf` receives the verifier log. */
export interface ProgLoadAttr {
  prog_type: number;
  insns: Uint8Array;
  license: string;
  log_level?: number;
  log_buf?: Uint8Array;
  log_size?: number;
  /** Out: the size the whole log needed. */
  log_true_size?: number;
  kern_version?: number;
  prog_flags?: number;
  prog_name?: string;
  expected_attach_type?: number;
  /** The BTF id the program attaches to: a struct_ops program's struct in the base BTF. */
  attach_btf_id?: number;
  /** BTF line info (the kernel's `line_info`): the source line of instructions, by slot. */
  line_info?: readonly {
    readonly insn: number;
    readonly line: string;
    readonly file?: string;
    readonly lineNum?: number;
    readonly col?: number;
  }[];
  /** BTF func info (the kernel's `func_info`): where each function starts, and its C signature. */
  func_info?: readonly { readonly insn: number; readonly name: string; readonly global?: readonly GlobalArg[] }[];
  /** bpfbox's stand-in for prog_btf_fd: the object's BTF types (the ids bpf_snprintf_btf is given name them). */
  prog_btf?: ShowBtf;
}

/** ObjPathAttr: BPF_OBJ_PIN / BPF_OBJ_GET (`file_flags`: BPF_F_RDONLY / BPF_F_WRONLY for the new fd). */
export interface ObjPathAttr {
  pathname: string;
  bpf_fd?: number;
  file_flags?: number;
}

/** GetNextIdAttr: BPF_*_GET_NEXT_ID: `next_id` receives the first id above `start_id`. */
export interface GetNextIdAttr {
  start_id: number;
  next_id?: number;
}

/** GetFdByIdAttr: BPF_*_GET_FD_BY_ID. */
export interface GetFdByIdAttr {
  map_id?: number;
  prog_id?: number;
  link_id?: number;
  open_flags?: number;
}

/** ObjInfoAttr: BPF_OBJ_GET_INFO_BY_FD: `info` receives the object's description. */
export interface ObjInfoAttr {
  bpf_fd: number;
  info?: MapInfo | ProgInfo | LinkInfo;
}

/**
 * ProgTestRunAttr: BPF_PROG_TEST_RUN: run a program once or `repeat` times on `data_in`. `retval`,
 * `duration` (average ns) and the sizes come back; `data_out`/`ctx_out` receive the packet
 * and context afterwards (ENOSPC, with as much as fits, when a buffer is too small).
 */
export interface ProgTestRunAttr {
  prog_fd: number;
  data_in: Uint8Array;
  data_out?: Uint8Array;
  data_size_out?: number;
  ctx_in?: Uint8Array;
  ctx_out?: Uint8Array;
  ctx_size_out?: number;
  repeat?: number;
  retval?: number;
  duration?: number;
  cpu?: number;
  flags?: number;
}

/** LinkCreateAttr: BPF_LINK_CREATE: for BPF_STRUCT_OPS, `map_fd` names a READY BPF_F_LINK struct_ops map. Returns a link fd. */
export interface LinkCreateAttr {
  prog_fd?: number;
  map_fd?: number;
  target_fd?: number;
  attach_type: number;
  flags?: number;
}

/** LinkUpdateAttr: BPF_LINK_UPDATE: a struct_ops link gets `new_map_fd`; with BPF_F_REPLACE only if it has `old_map_fd`. */
export interface LinkUpdateAttr {
  link_fd: number;
  new_map_fd?: number;
  new_prog_fd?: number;
  flags?: number;
  old_map_fd?: number;
  old_prog_fd?: number;
}

/** LinkDetachAttr: BPF_LINK_DETACH. */
export interface LinkDetachAttr {
  link_fd: number;
}

/** AttrOf maps each command to its attribute type. */
export interface AttrOf {
  BPF_MAP_CREATE: MapCreateAttr;
  BPF_MAP_LOOKUP_ELEM: MapElemAttr;
  BPF_MAP_UPDATE_ELEM: MapElemAttr;
  BPF_MAP_DELETE_ELEM: MapElemAttr;
  BPF_MAP_GET_NEXT_KEY: MapNextKeyAttr;
  BPF_PROG_LOAD: ProgLoadAttr;
  BPF_OBJ_PIN: ObjPathAttr;
  BPF_OBJ_GET: ObjPathAttr;
  BPF_PROG_TEST_RUN: ProgTestRunAttr;
  BPF_PROG_GET_NEXT_ID: GetNextIdAttr;
  BPF_MAP_GET_NEXT_ID: GetNextIdAttr;
  BPF_PROG_GET_FD_BY_ID: GetFdByIdAttr;
  BPF_MAP_GET_FD_BY_ID: GetFdByIdAttr;
  BPF_OBJ_GET_INFO_BY_FD: ObjInfoAttr;
  BPF_MAP_LOOKUP_AND_DELETE_ELEM: MapElemAttr;
  BPF_MAP_FREEZE: MapFreezeAttr;
  BPF_MAP_LOOKUP_BATCH: MapBatchAttr;
  BPF_MAP_LOOKUP_AND_DELETE_BATCH: MapBatchAttr;
  BPF_MAP_UPDATE_BATCH: MapBatchAttr;
  BPF_MAP_DELETE_BATCH: MapBatchAttr;
  BPF_PROG_BIND_MAP: ProgBindMapAttr;
  BPF_LINK_CREATE: LinkCreateAttr;
  BPF_LINK_UPDATE: LinkUpdateAttr;
  BPF_LINK_DETACH: LinkDetachAttr;
  BPF_LINK_GET_FD_BY_ID: GetFdByIdAttr;
  BPF_LINK_GET_NEXT_ID: GetNextIdAttr;
}

/** The attribute fields each command reads; anything else set is EINVAL (the kernel's CHECK_ATTR). */
export const ATTR_FIELDS: { readonly [C in CmdName]: readonly (keyof AttrOf[C])[] } = {
  BPF_MAP_CREATE: [
    'map_type',
    'key_size',
    'value_size',
    'max_entries',
    'map_flags',
    'inner_map_fd',
    'map_name',
    'map_extra',
    'btf_desc',
    'btf_vmlinux_value_type_id',
    'value_type_btf_obj_fd',
  ],
  BPF_MAP_LOOKUP_ELEM: ['map_fd', 'key', 'value', 'flags'],
  BPF_MAP_UPDATE_ELEM: ['map_fd', 'key', 'value', 'flags'],
  BPF_MAP_DELETE_ELEM: ['map_fd', 'key', 'flags'],
  BPF_MAP_GET_NEXT_KEY: ['map_fd', 'key', 'next_key'],
  BPF_PROG_LOAD: [
    'prog_type',
    'insns',
    'license',
    'log_level',
    'log_buf',
    'log_size',
    'log_true_size',
    'kern_version',
    'prog_flags',
    'prog_name',
    'expected_attach_type',
    'attach_btf_id',
    'line_info',
    'func_info',
    'prog_btf',
  ],
  BPF_OBJ_PIN: ['pathname', 'bpf_fd', 'file_flags'],
  BPF_OBJ_GET: ['pathname', 'bpf_fd', 'file_flags'],
  BPF_PROG_TEST_RUN: [
    'prog_fd',
    'data_in',
    'data_out',
    'data_size_out',
    'ctx_in',
    'ctx_out',
    'ctx_size_out',
    'repeat',
    'retval',
    'duration',
    'cpu',
    'flags',
  ],
  BPF_PROG_GET_NEXT_ID: ['start_id', 'next_id'],
  BPF_MAP_GET_NEXT_ID: ['start_id', 'next_id'],
  BPF_PROG_GET_FD_BY_ID: ['prog_id', 'open_flags'],
  BPF_MAP_GET_FD_BY_ID: ['map_id', 'open_flags'],
  BPF_OBJ_GET_INFO_BY_FD: ['bpf_fd', 'info'],
  BPF_MAP_LOOKUP_AND_DELETE_ELEM: ['map_fd', 'key', 'value', 'flags'],
  BPF_MAP_FREEZE: ['map_fd'],
  BPF_MAP_LOOKUP_BATCH: ['map_fd', 'in_batch', 'out_batch', 'keys', 'values', 'count', 'elem_flags', 'flags'],
  BPF_MAP_LOOKUP_AND_DELETE_BATCH: ['map_fd', 'in_batch', 'out_batch', 'keys', 'values', 'count', 'elem_flags', 'flags'],
  BPF_MAP_UPDATE_BATCH: ['map_fd', 'keys', 'values', 'count', 'elem_flags', 'flags'],
  BPF_MAP_DELETE_BATCH: ['map_fd', 'keys', 'count', 'elem_flags', 'flags'],
  BPF_PROG_BIND_MAP: ['prog_fd', 'map_fd', 'flags'],
  BPF_LINK_CREATE: ['prog_fd', 'map_fd', 'target_fd', 'attach_type', 'flags'],
  BPF_LINK_UPDATE: ['link_fd', 'new_map_fd', 'new_prog_fd', 'flags', 'old_map_fd', 'old_prog_fd'],
  BPF_LINK_DETACH: ['link_fd'],
  BPF_LINK_GET_FD_BY_ID: ['link_id', 'open_flags'],
  BPF_LINK_GET_NEXT_ID: ['start_id', 'next_id'],
};
