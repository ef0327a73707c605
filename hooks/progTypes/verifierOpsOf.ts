import { helperId, helperName } from '../../uapi/helperNames.js';
import { AttachType, ProgType } from '../../uapi/progType.js';
import type { VerifierOps } from '../../vm/verifier/verifierOps.js';
import { cgSkbVerifierOps } from './cgroupSkb.js';
import { cgroupSockVerifierOps } from './cgroupSock.js';
import { lwtInVerifierOps, lwtOutVerifierOps, lwtVerifierOps, lwtXmitVerifierOps } from './lwt.js';
import { retvalRangeOf } from './retvalRange.js';
import { tcClsActVerifierOps } from './schedCls.js';
import { skMsgVerifierOps } from './skMsg.js';
import { skSkbVerifierOps } from './skSkb.js';
import { skFilterVerifierOps } from './socketFilter.js';
import { xdpDevmapVerifierOps, xdpVerifierOps } from './xdp.js';

/** BPF_VERIFIER_OPS: the ops of each type bpfbox models, by BPF_PROG_TYPE_* id (the kernel's bpf_verifier_ops[], filled from bpf_types.h). */
const BPF_VERIFIER_OPS: Readonly<Record<number, VerifierOps>> = {
  [ProgType.BPF_PROG_TYPE_SOCKET_FILTER]: skFilterVerifierOps,
  [ProgType.BPF_PROG_TYPE_SCHED_CLS]: tcClsActVerifierOps,
  [ProgType.BPF_PROG_TYPE_SCHED_ACT]: tcClsActVerifierOps,
  [ProgType.BPF_PROG_TYPE_XDP]: xdpVerifierOps,
};

/** ContextOps: a type's context rules (is_valid_access and what follows from it), and its helpers where tabled. */
type ContextOps = Omit<VerifierOps, 'getFuncProto'> & Partial<Pick<VerifierOps, 'getFuncProto'>>;

/**
 * VERIFIED_CONTEXTS: the types bpfbox verifies but does not run, whose context is a small table
 * the kernel's own verifier tests use (hooks/progTypes/cgroupSkb.ts, lwt.ts, skSkb.ts,
 * skMsg.ts, cgroupSock.ts), by BPF_PROG_TYPE_* id and expected_attach_type, with their
 * get_func_proto tables (but lwt_seg6local's); return ranges are the fallback's (unmodelledOps).
 */
const VERIFIED_CONTEXTS: Readonly<Record<number, (attach: number) => ContextOps>> = {
  [ProgType.BPF_PROG_TYPE_CGROUP_SKB]: () => cgSkbVerifierOps,
  [ProgType.BPF_PROG_TYPE_CGROUP_SOCK]: cgroupSockVerifierOps,
  [ProgType.BPF_PROG_TYPE_LWT_IN]: () => lwtInVerifierOps,
  [ProgType.BPF_PROG_TYPE_LWT_OUT]: () => lwtOutVerifierOps,
  [ProgType.BPF_PROG_TYPE_LWT_SEG6LOCAL]: () => lwtVerifierOps,
  [ProgType.BPF_PROG_TYPE_LWT_XMIT]: () => lwtXmitVerifierOps,
  [ProgType.BPF_PROG_TYPE_SK_SKB]: () => skSkbVerifierOps,
  [ProgType.BPF_PROG_TYPE_SK_MSG]: () => skMsgVerifierOps,
};

/**
 * UNMODELLED_OPS: what the verifier is told of a type bpfbox does not model: its context is
 * not modelled (the verifier says so at the first access), every helper may be called, no
 * LD_ABS (may_access_skb's default); no packet pointers can arise, so packet stores decide nothing.
 */
const UNMODELLED_OPS: VerifierOps = {
  getFuncProto: () => true,
  mayAccessSkb: false,
  directPacketWrite: true,
};

/**
 * TRACING_FUNC_PROTO_TYPES: the types whose get_func_proto falls back on bpf_tracing_func_proto
 * (kernel/trace/bpf_trace.c), not on bpf_sk_base_func_proto: they have no
 * bpf_ktime_get_coarse_ns ("program of this type cannot use helper", verifier_helper_restricted.c).
 */
const TRACING_FUNC_PROTO_TYPES: ReadonlySet<number> = new Set([
  ProgType.BPF_PROG_TYPE_KPROBE,
  ProgType.BPF_PROG_TYPE_TRACEPOINT,
  ProgType.BPF_PROG_TYPE_PERF_EVENT,
  ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT,
  ProgType.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE,
  ProgType.BPF_PROG_TYPE_TRACING,
  ProgType.BPF_PROG_TYPE_LSM,
]);

const KTIME_GET_COARSE_NS = helperId('ktime_get_coarse_ns');

/**
 * unmodelledOps: UNMODELLED_OPS for one type bpfbox does not run, with what the verifier
 * checks of it: its context where VERIFIED_CONTEXTS has it, the return-value range at exit
 * (retvalRangeOf) and the tracing types' missing helpers.
 */
function unmodelledOps(type: number, expectedAttachType: number): VerifierOps {
  const retvalRange = retvalRangeOf(type, expectedAttachType);
  const tracing = TRACING_FUNC_PROTO_TYPES.has(type);
  const context = VERIFIED_CONTEXTS[type]?.(expectedAttachType);
  if (!retvalRange && !tracing && !context) return UNMODELLED_OPS;
  return {
    ...UNMODELLED_OPS,
    ...context,
    ...(tracing ? { getFuncProto: (id: number) => id !== KTIME_GET_COARSE_NS } : {}),
    ...(retvalRange ? { retvalRange } : {}),
  };
}

/**
 * verifierOpsOf gives the verifier's ops for program type `type` loaded for
 * `expectedAttachType` (a fallback for types bpfbox does not model).
 */
export function verifierOpsOf(type: number, expectedAttachType = 0): VerifierOps {
  if (type === ProgType.BPF_PROG_TYPE_XDP && expectedAttachType === AttachType.BPF_XDP_DEVMAP) return xdpDevmapVerifierOps;
  return BPF_VERIFIER_OPS[type] ?? unmodelledOps(type, expectedAttachType);
}

/** typeModelled tells whether bpfbox runs programs of `type` (so every helper they call must exist here). */
export function typeModelled(type: number): boolean {
  return BPF_VERIFIER_OPS[type] !== undefined;
}

/**
 * helpersOf lists the helper ids a modelled type (or a verified one with a table, loaded
 * without an expected_attach_type) may call: every kernel helper its get_func_proto offers.
 */
export function helpersOf(type: number): readonly number[] {
  const ops = BPF_VERIFIER_OPS[type] ?? (VERIFIED_CONTEXTS[type]?.(0).getFuncProto ? verifierOpsOf(type) : undefined);
  const out: number[] = [];
  for (let id = 1; ops && helperName(id) !== undefined; id++) if (ops.getFuncProto(id)) out.push(id);
  return out;
}
