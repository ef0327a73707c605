import assert from 'node:assert/strict';
import { retvalRangeOf } from '../../hooks/progTypes/retvalRange.js';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { MapType } from '../../uapi/mapType.js';
import { AttachType, ProgType } from '../../uapi/progType.js';
import { type Instruction, insn } from '../../vm/instruction.js';
import type { MapInfo } from '../../vm/verifier/state.js';
import { type VerifyOptions, verify } from '../../vm/verifier/verify.js';

/**
 * Programs the kernel's verifier selftests show the 6.18 kernel refusing that bpfbox once
 * accepted (issue 18 item 5), for the rules that need what the kernel differential cannot give
 * (an expected_attach_type, map flags, BTF func_info, a map with a spin lock): each expected
 * message is the kernel's, from the selftest named (checked on the running kernel through
 * `npm run differential:selftests -- --filter`).
 */
const P = ProgType;
const A = AttachType;
const EXIT = insn(0x95, 0, 0, 0, 0);
const ret = (v: number): Instruction[] => [insn(0xb7, 0, 0, 0, v), EXIT];
const lddw = (dst: number, mapFd: number): Instruction[] => [insn(0x18, dst, 1, 0, BigInt(mapFd))];

function run(p: readonly Instruction[], type: number, extra: Partial<VerifyOptions> = {}, attach = 0) {
  return verify(p, { progType: type, ops: verifierOpsOf(type, attach), ...extra });
}
const refusal = (r: ReturnType<typeof verify>): string => (r.ok ? 'ok' : `${r.errno} ${r.message}`);

describe('verifier: unsafe accepts of the kernel selftests (issue 18 item 5)', () => {
  describe('check_return_code by expected_attach_type (verifier_sock_addr.c)', () => {
    const SA = P.BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
    const cases: [string, number, number, string][] = [
      [
        'recvmsg4 returns 0',
        A.BPF_CGROUP_UDP4_RECVMSG,
        0,
        '22 At program exit the register R0 has smin=0 smax=0 should have been in [1, 1]',
      ],
      ['recvmsg4 returns 1', A.BPF_CGROUP_UDP4_RECVMSG, 1, 'ok'],
      [
        'getsockname_unix returns 0',
        A.BPF_CGROUP_UNIX_GETSOCKNAME,
        0,
        '22 At program exit the register R0 has smin=0 smax=0 should have been in [1, 1]',
      ],
      ['bind4 returns 3', A.BPF_CGROUP_INET4_BIND, 3, 'ok'],
      ['bind6 returns 4', A.BPF_CGROUP_INET6_BIND, 4, '22 At program exit the register R0 has smin=4 smax=4 should have been in [0, 3]'],
      [
        'connect4 returns 2',
        A.BPF_CGROUP_INET4_CONNECT,
        2,
        '22 At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]',
      ],
      ['sendmsg_unix returns 1', A.BPF_CGROUP_UNIX_SENDMSG, 1, 'ok'],
    ];
    for (const [what, attach, v, want] of cases) it(what, () => assert.equal(refusal(run(ret(v), SA, {}, attach)), want));

    it('netfilter: [NF_DROP, NF_ACCEPT] (verifier_netfilter_retcode.c)', () => {
      const NF = P.BPF_PROG_TYPE_NETFILTER;
      assert.equal(refusal(run(ret(1), NF, {}, A.BPF_NETFILTER)), 'ok');
      assert.equal(
        refusal(run(ret(2), NF, {}, A.BPF_NETFILTER)),
        '22 At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]',
      );
    });

    it('the kernel table: cgroup_skb egress [0, 3], fentry [0, 0], none for XDP, tc, socket filters and kprobes', () => {
      assert.deepEqual(retvalRangeOf(P.BPF_PROG_TYPE_CGROUP_SKB, A.BPF_CGROUP_INET_EGRESS), { minval: 0, maxval: 3 });
      assert.deepEqual(retvalRangeOf(P.BPF_PROG_TYPE_CGROUP_SKB, A.BPF_CGROUP_INET_INGRESS), { minval: 0, maxval: 1 });
      assert.deepEqual(retvalRangeOf(P.BPF_PROG_TYPE_TRACING, A.BPF_TRACE_FENTRY), { minval: 0, maxval: 0 });
      for (const t of [P.BPF_PROG_TYPE_XDP, P.BPF_PROG_TYPE_SCHED_CLS, P.BPF_PROG_TYPE_SOCKET_FILTER, P.BPF_PROG_TYPE_KPROBE])
        assert.equal(retvalRangeOf(t, 0), undefined, `type ${t}`);
    });

    it('an unknown r0 prints "unknown scalar value" (verifier_cgroup_inv_retcode.c test7)', () => {
      const p = [insn(0x79, 0, 10, -8, 0), EXIT];
      const stackFilled = [insn(0x7a, 10, 0, -8, 0), insn(0x85, 0, 0, 0, 7), insn(0x7b, 10, 0, -8, 0), ...p];
      assert.equal(
        refusal(run(stackFilled, P.BPF_PROG_TYPE_CGROUP_SOCK)),
        '22 At program exit the register R0 has unknown scalar value should have been in [0, 1]',
      );
    });
  });

  describe('map flags (verifier_array_access.c)', () => {
    const wo: MapInfo = { type: MapType.BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 48, array: true, maxEntries: 1, writeonlyProg: true };
    const lookup = [insn(0x62, 10, 0, -8, 0), insn(0xbf, 2, 10, 0, 0), insn(0x07, 2, 0, 0, -8), ...lddw(1, 0), insn(0x85, 0, 0, 0, 1)];
    it('a load from a BPF_F_WRONLY_PROG value is refused, a store is not', () => {
      const load = [...lookup, insn(0x15, 0, 0, 1, 0), insn(0x79, 0, 0, 0, 0), EXIT];
      assert.equal(
        refusal(run(load, P.BPF_PROG_TYPE_SOCKET_FILTER, { maps: [wo] })),
        '13 read from map forbidden, value_size=48 off=0 size=8',
      );
      const store = [...lookup, insn(0x15, 0, 0, 1, 0), insn(0x7a, 0, 0, 0, 1), ...ret(0)];
      assert.equal(refusal(run(store, P.BPF_PROG_TYPE_SOCKET_FILTER, { maps: [wo] })), 'ok');
    });
  });

  describe('LD_ABS (verifier_ld_ind.c, verifier_spin_lock.c)', () => {
    // main (slot 0): call sub; r0 = 0; exit. sub (slot 3): r6 = r1 (the ctx); LD_ABS; exit
    const withSub = [insn(0x85, 0, 1, 0, 2), ...ret(0), insn(0xbf, 6, 1, 0, 0), insn(0x30, 0, 0, 0, 0), EXIT];
    it('in a subprogram whose BTF return type is void: refused before the walk', () => {
      const r = run(withSub, P.BPF_PROG_TYPE_SOCKET_FILTER, { funcInfo: true, nonScalarReturn: [3] });
      assert.equal(refusal(r), "22 LD_ABS is only allowed in functions that return 'int'.");
      assert.equal(refusal(run(withSub, P.BPF_PROG_TYPE_SOCKET_FILTER, { funcInfo: true, nonScalarReturn: [] })), 'ok');
    });

    const locked: MapInfo = {
      type: MapType.BPF_MAP_TYPE_ARRAY,
      keySize: 4,
      valueSize: 8,
      array: true,
      maxEntries: 1,
      btf: true,
      spinLock: 4,
    };
    const lookup = (dst: number): Instruction[] => [
      insn(0x62, 10, 0, -8, 0),
      insn(0xbf, 2, 10, 0, 0),
      insn(0x07, 2, 0, 0, -8),
      ...lddw(1, 0),
      insn(0x85, 0, 0, 0, 1),
      insn(0x55, 0, 0, 1, 0),
      EXIT,
      insn(0xbf, dst, 0, 0, 0),
      insn(0x07, dst, 0, 0, 4),
    ];
    it('under a held spin lock: refused', () => {
      const p = [insn(0xbf, 6, 1, 0, 0), ...lookup(7), insn(0xbf, 1, 7, 0, 0), insn(0x85, 0, 0, 0, 93), insn(0x30, 0, 0, 0, 0)];
      const r = run([...p, insn(0xbf, 1, 7, 0, 0), insn(0x85, 0, 0, 0, 94), ...ret(0)], P.BPF_PROG_TYPE_SCHED_CLS, { maps: [locked] });
      assert.equal(refusal(r), '22 BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region');
    });

    it('bpf_spin_unlock of the lock of another lookup of the same map: refused (spin_lock_test9_different_lock)', () => {
      const unlock = (r: number) => [
        ...lookup(6),
        ...lookup(7),
        insn(0xbf, 1, 6, 0, 0),
        insn(0x85, 0, 0, 0, 93),
        insn(0xbf, 1, r, 0, 0),
        insn(0x85, 0, 0, 0, 94),
        ...ret(0),
      ];
      assert.equal(refusal(run(unlock(7), P.BPF_PROG_TYPE_SCHED_CLS, { maps: [locked] })), '22 bpf_spin_unlock of different lock');
      assert.equal(refusal(run(unlock(6), P.BPF_PROG_TYPE_SCHED_CLS, { maps: [locked] })), 'ok');
    });
  });

  it('a conditional loop whose state repeats exactly: infinite loop detected (verifier_cfg.c conditional_loop)', () => {
    // r0 = r1; l0: r2 = r0; r3 = r0; if r1 == 0 goto l0; exit (the kernel names insn 3, its prune point; bpfbox the target)
    const p = [insn(0xbf, 0, 1, 0, 0), insn(0xbf, 2, 0, 0, 0), insn(0xbf, 3, 0, 0, 0), insn(0x15, 1, 0, -3, 0), EXIT];
    const r = run(p, P.BPF_PROG_TYPE_SOCKET_FILTER, { limit: 10_000 });
    assert.ok(!r.ok && /^infinite loop detected at insn \d$/.test(r.message), refusal(r));
  });

  it('bpf_strtoul with a misaligned long *res on the stack (verifier_int_ptr.c arg_ptr_to_long_misaligned)', () => {
    const p = (resOff: number) => [
      insn(0x7a, 10, 0, -8, 0x303036),
      insn(0xbf, 1, 10, 0, 0),
      insn(0x07, 1, 0, 0, -8),
      insn(0xb7, 2, 0, 0, 4),
      insn(0xb7, 3, 0, 0, 0),
      insn(0xbf, 4, 10, 0, 0),
      insn(0x07, 4, 0, 0, resOff),
      insn(0x85, 0, 0, 0, 106),
      ...ret(1),
    ];
    assert.equal(refusal(run(p(-20), P.BPF_PROG_TYPE_SOCKET_FILTER)), '13 misaligned stack access off 0+-20+0 size 8');
    assert.equal(refusal(run(p(-16), P.BPF_PROG_TYPE_SOCKET_FILTER)), 'ok');
  });
});
