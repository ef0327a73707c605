/**
 * StructOpsState: `enum bpf_struct_ops_state` (include/linux/bpf.h): a map's value is INIT when
 * created, INUSE once its update registered it, TOBEFREE once its delete unregistered it;
 * a BPF_F_LINK map is READY after its update and registered only by a link.
 */
export const StructOpsState = {
  BPF_STRUCT_OPS_STATE_INIT: 0,
  BPF_STRUCT_OPS_STATE_INUSE: 1,
  BPF_STRUCT_OPS_STATE_TOBEFREE: 2,
  BPF_STRUCT_OPS_STATE_READY: 3,
} as const;

/** StructOpsStateValue: one of StructOpsState's values. */
export type StructOpsStateValue = (typeof StructOpsState)[keyof typeof StructOpsState];
