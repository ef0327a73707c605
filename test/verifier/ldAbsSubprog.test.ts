import assert from 'node:assert/strict';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { ProgType } from '../../uapi/progType.js';
import { R0, R1, R6, R9, callLocal, exit, jne, label, ldabs, link, mov } from '../../vm/dsl.js';
import { verify } from '../../vm/verifier/verify.js';

/**
 * LD_ABS in a called function (verifier_ld_ind.c ld_abs_subprog_early_exit, 6.18): where the
 * load fails, bpf_gen_ld_abs's hidden exit returns 0 to the caller, so the caller's `r0 == 0`
 * path is live; reading r9 there is refused ("R9 !read_ok", the running kernel's message for the
 * compiled selftest; the selftests runner compares it). bpfbox once saw only r0 = 1 and accepted.
 */
const P = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;
const program = (readR9: boolean) =>
  link([
    callLocal('sub'),
    jne(R0, 0, 'out'),
    ...(readR9 ? [mov(R0, R9)] : []),
    label('out'),
    mov(R0, 0),
    exit(),
    label('sub'),
    mov(R6, R1),
    ldabs('u32', 0),
    mov(R0, 1),
    exit(),
  ]);

describe('verifier: LD_ABS in a called function may return 0 to its caller', () => {
  it('the caller path where it returned 0 is walked: an unset r9 read there is refused', () => {
    const v = verify(program(true), { progType: P, ops: verifierOpsOf(P), funcInfo: true });
    assert.equal(v.ok ? 'ok' : `${v.errno} ${v.message}`, '13 R9 !read_ok');
  });
  it('without the read, accepted', () => {
    assert.equal(verify(program(false), { progType: P, ops: verifierOpsOf(P), funcInfo: true }).ok, true);
  });
});
