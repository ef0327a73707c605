import assert from 'node:assert/strict';
import { helpersOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { helperName } from '../../uapi/helperNames.js';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { insn } from '../../vm/instruction.js';
import { kernelProbeForSuite } from '../support/kernelProbe.js';

/**
 * Differential: the helpers each program type may call. For every helper id the running
 * kernel knows, a two-instruction program (`call N; exit`) of each type goes to the kernel's
 * verifier (test/differential/c/ctx_probe.c, as root: CAP_BPF and CAP_PERFMON); the kernel
 * offers the helper unless it answers "program of this type cannot use helper" (or "invalid
 * func" for an id it does not know). bpfbox's tables (hooks/progTypes/*: xdp_func_proto,
 * tc_cls_act_func_proto, sk_filter_func_proto, bpf_base_func_proto, and those of the types
 * bpfbox only verifies: cg_skb, sock_filter, lwt_in/out/xmit, sk_skb, sk_msg) must list the same ids.
 * (`bpftool feature probe` is no independent source on 6.18: v7.1 reports every helper for
 * every type.)
 */
const TYPES: readonly [string, number][] = [
  ['xdp', ProgType.BPF_PROG_TYPE_XDP],
  ['sched_cls', ProgType.BPF_PROG_TYPE_SCHED_CLS],
  ['sched_act', ProgType.BPF_PROG_TYPE_SCHED_ACT],
  ['socket_filter', ProgType.BPF_PROG_TYPE_SOCKET_FILTER],
  // verified, not run (as loaded without an expected_attach_type: cgroup_skb ingress, cgroup_sock sock_create)
  ['cgroup_skb', ProgType.BPF_PROG_TYPE_CGROUP_SKB],
  ['cgroup_sock', ProgType.BPF_PROG_TYPE_CGROUP_SOCK],
  ['lwt_in', ProgType.BPF_PROG_TYPE_LWT_IN],
  ['lwt_out', ProgType.BPF_PROG_TYPE_LWT_OUT],
  ['lwt_xmit', ProgType.BPF_PROG_TYPE_LWT_XMIT],
  ['sk_skb', ProgType.BPF_PROG_TYPE_SK_SKB],
  ['sk_msg', ProgType.BPF_PROG_TYPE_SK_MSG],
];
/** Past the last id bpfbox knows, so a helper the kernel has and bpfbox lacks shows. */
const PROBE_IDS = 240;

describe('differential: helpers per program type against the running kernel', function () {
  this.timeout(60_000);
  const probe = kernelProbeForSuite('helpers per program type');
  for (const [label, type] of TYPES) {
    it(`${label}: bpfbox's get_func_proto table is the kernel's`, () => {
      const progs: [number, Uint8Array][] = [];
      for (let id = 1; id < PROBE_IDS; id++) progs.push([type, encode([insn(0x85, 0, 0, 0, id), insn(0x95, 0, 0, 0, 0)])]);
      const answers = probe().ask(progs);
      const kernel = answers.flatMap((a, i) => (/cannot use helper|invalid func|unknown func/.test(a) ? [] : [i + 1]));
      const ours = [...helpersOf(type)].sort((a, b) => a - b);
      const name = (id: number) => `${helperName(id) ?? 'unknown'}#${id}`;
      const extra = ours.filter((id) => !kernel.includes(id)).map(name);
      const missing = kernel.filter((id) => !ours.includes(id)).map(name);
      assert.deepEqual(
        { extra, missing },
        { extra: [], missing: [] },
        `${label}: ${kernel.length} kernel helpers, ${ours.length} in bpfbox`,
      );
      // the probe is no rubber stamp: it refuses some ids for every type
      assert.ok(kernel.length > 50 && kernel.length < PROBE_IDS - 60, `${label}: kernel offers ${kernel.length}`);
    });
  }
});
