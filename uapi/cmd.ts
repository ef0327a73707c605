/** Cmd: the `enum bpf_cmd` values of include/uapi/linux/bpf.h that bpfbox implements. */
export const Cmd = {
  BPF_MAP_CREATE: 0,
  BPF_MAP_LOOKUP_ELEM: 1,
  BPF_MAP_UPDATE_ELEM: 2,
  BPF_MAP_DELETE_ELEM: 3,
  BPF_MAP_GET_NEXT_KEY: 4,
  BPF_PROG_LOAD: 5,
  BPF_OBJ_PIN: 6,
  BPF_OBJ_GET: 7,
  BPF_PROG_TEST_RUN: 10,
  BPF_PROG_GET_NEXT_ID: 11,
  BPF_MAP_GET_NEXT_ID: 12,
  BPF_PROG_GET_FD_BY_ID: 13,
  BPF_MAP_GET_FD_BY_ID: 14,
  BPF_OBJ_GET_INFO_BY_FD: 15,
  BPF_MAP_LOOKUP_AND_DELETE_ELEM: 21,
  BPF_MAP_FREEZE: 22,
  BPF_MAP_LOOKUP_BATCH: 24,
  BPF_MAP_LOOKUP_AND_DELETE_BATCH: 25,
  BPF_MAP_UPDATE_BATCH: 26,
  BPF_MAP_DELETE_BATCH: 27,
  BPF_LINK_CREATE: 28,
  BPF_LINK_UPDATE: 29,
  BPF_LINK_GET_FD_BY_ID: 30,
  BPF_LINK_GET_NEXT_ID: 31,
  BPF_LINK_DETACH: 34,
  BPF_PROG_BIND_MAP: 35,
} as const;

/** CmdName: a command's name (`'BPF_MAP_LOOKUP_ELEM'`), what `bpf(cmd, attr)` takes. */
export type CmdName = keyof typeof Cmd;
