import assert from 'node:assert/strict';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { ProgType } from '../../uapi/progType.js';
import { insn } from '../../vm/instruction.js';
import { verify } from '../../vm/verifier/verify.js';

/**
 * The verifier knows program types only through the ops it is handed (bpf_verifier_ops): what
 * they do not give it, it says it does not model rather than guessing.
 */
describe('verifier: program type ops', () => {
  const EXIT0 = [insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)];
  const KPROBE = ProgType.BPF_PROG_TYPE_KPROBE;

  it('a type without is_valid_access: a context load is unmodelled, not refused', () => {
    const r = verify([insn(0x61, 0, 1, 0, 0), insn(0x95, 0, 0, 0, 0)], { progType: KPROBE, ops: verifierOpsOf(KPROBE) });
    assert.ok(!r.ok && r.unsupported, JSON.stringify(r));
    assert.match(r.message, /does not model the context of program type 2 \(insn 0\)/);
  });

  it('a return value range at exit is enforced (check_return_code), and the types bpfbox runs have none', () => {
    const ops = { ...verifierOpsOf(ProgType.BPF_PROG_TYPE_XDP), retvalRange: { minval: 0, maxval: 1 } };
    assert.ok(verify(EXIT0, { progType: ProgType.BPF_PROG_TYPE_XDP, ops }).ok);
    const r = verify([insn(0xb7, 0, 0, 0, 7), insn(0x95, 0, 0, 0, 0)], { progType: ProgType.BPF_PROG_TYPE_XDP, ops });
    assert.ok(!r.ok && !r.unsupported, JSON.stringify(r));
    assert.equal(r.message, 'At program exit the register R0 has smin=7 smax=7 should have been in [0, 1]');
    for (const t of [ProgType.BPF_PROG_TYPE_XDP, ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_SOCKET_FILTER])
      assert.equal(verifierOpsOf(t).retvalRange, undefined);
  });
});
