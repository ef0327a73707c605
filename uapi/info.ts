/** MapInfo is `struct bpf_map_info` as BPF_OBJ_GET_INFO_BY_FD fills it. */
export interface MapInfo {
  kind: 'map';
  type: number;
  id: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags: number;
  name: string;
  map_extra: number;
  /** A struct_ops map's value type id in the base BTF (present for struct_ops maps only). */
  btf_vmlinux_value_type_id?: number;
  /** bpfbox: whether the map is frozen (bpftool reads it from fdinfo). */
  frozen: boolean;
  /** bpfbox: bytes of memory the map occupies (bpftool's memlock). */
  bytes_memlock: number;
}

/** ProgInfo is `struct bpf_prog_info` as BPF_OBJ_GET_INFO_BY_FD fills it. */
export interface ProgInfo {
  kind: 'prog';
  type: number;
  id: number;
  /** 8 bytes, as hex. */
  tag: string;
  name: string;
  xlated_prog_len: number;
  jited_prog_len: number;
  load_time: number;
  created_by_uid: number;
  map_ids: number[];
  gpl_compatible: boolean;
  run_cnt: number;
  run_time_ns: number;
  nr_map_ids: number;
}

/** LinkInfo is `struct bpf_link_info` as BPF_OBJ_GET_INFO_BY_FD fills it (the struct_ops part: the map's id). */
export interface LinkInfo {
  kind: 'link';
  /** enum bpf_link_type. */
  type: number;
  id: number;
  prog_id: number;
  attach_type: number;
  /** The link type's own fields (struct_ops: map_id). */
  [field: string]: number | string;
}
