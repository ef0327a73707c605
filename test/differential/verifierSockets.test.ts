import assert from 'node:assert/strict';
import { Kernel } from '../../kernel/kernel.js';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { type Instruction, insn } from '../../vm/instruction.js';
import { kernelProbeForSuite } from '../support/kernelProbe.js';
import { verdict } from '../support/verdict.js';

/**
 * Differential: socket pointers and their references (vm/verifier/sockets.ts) through the
 * running kernel's verifier (test/differential/c/ctx_probe.c, as root) and bpfbox's: the same
 * decision, errno and final message. The shapes are those of the kernel's
 * verifier_ref_tracking.c, verifier_sock.c and verifier_jeq_infer_not_null.c; the lookups miss
 * in both at run time (a zero tuple: no socket), which the last test checks in bpfbox.
 */
const P = ProgType;
const F = {
  sk_lookup_tcp: 84,
  sk_lookup_udp: 85,
  sk_release: 86,
  sk_fullsock: 95,
  tcp_sock: 96,
  get_listener_sock: 98,
  skc_lookup_tcp: 99,
  skc_to_tcp_sock: 137,
  skc_to_udp6_sock: 140,
};
const SKB_SK = 168;
const mov = (d: number, v: number) => insn(0xb7, d, 0, 0, v);
const movr = (d: number, s: number) => insn(0xbf, d, s, 0, 0);
const call = (id: number) => insn(0x85, 0, 0, 0, id);
const exit = insn(0x95, 0, 0, 0, 0);
const ldxw = (d: number, s: number, off: number) => insn(0x61, d, s, off, 0);
const ldxdw = (d: number, s: number, off: number) => insn(0x79, d, s, off, 0);
/** if rD == 0 goto +n / if rD != 0 goto +n */
const jeq0 = (d: number, n: number) => insn(0x15, d, 0, n, 0);
const RET0 = [mov(0, 0), exit];

/** lookup: a zeroed struct bpf_sock_tuple (36 bytes) at fp-48, then sk = func(ctx, &tuple, 36, 0, 0) (BPF_SK_LOOKUP). */
const lookup = (func: number): Instruction[] => [
  mov(2, 0),
  insn(0x63, 10, 2, -8, 0),
  ...[-16, -24, -32, -40, -48].map((o) => insn(0x7b, 10, 2, o, 0)),
  movr(2, 10),
  insn(0x07, 2, 0, 0, -48),
  mov(3, 36),
  mov(4, 0),
  mov(5, 0),
  call(func),
];
/** checked: look up, NULL check (exit 0 on NULL), `body` with the socket in r0 and r6, release r6, exit 0. */
const checked = (func: number, body: Instruction[]): Instruction[] => {
  const tail = [...body, movr(1, 6), call(F.sk_release), ...RET0];
  return [...lookup(func), movr(6, 0), jeq0(0, tail.length), ...tail, ...RET0];
};

export function probes(): [string, number, Instruction[]][] {
  const out: [string, number, Instruction[]][] = [];
  for (const [name, func] of Object.entries({
    sk_lookup_tcp: F.sk_lookup_tcp,
    sk_lookup_udp: F.sk_lookup_udp,
    skc_lookup_tcp: F.skc_lookup_tcp,
  }))
    for (const type of [P.BPF_PROG_TYPE_SCHED_CLS, P.BPF_PROG_TYPE_XDP]) {
      out.push([`${name}: leaked`, type, [...lookup(func), ...RET0]]);
      out.push([`${name}: released after a NULL check`, type, checked(func, [])]);
      out.push([`${name}: released without a NULL check`, type, [...lookup(func), movr(1, 0), call(F.sk_release), ...RET0]]);
      out.push([
        `${name}: NULL on one path, released on the other`,
        type,
        [...lookup(func), jeq0(0, 2), movr(1, 0), call(F.sk_release), ...RET0],
      ]);
    }
  const tc = P.BPF_PROG_TYPE_SCHED_CLS;
  // struct bpf_sock reads (bpf_sock_is_valid_access) and their neighbours
  for (const [off, size] of [
    [4, 4],
    [4, 1],
    [5, 1],
    [8, 2],
    [0, 8],
    [24, 1],
    [27, 1],
    [48, 2],
    [48, 4],
    [49, 1],
    [50, 2],
    [72, 4],
    [76, 4],
    [80, 4],
    [16, 4],
  ]) {
    const op = { 1: 0x71, 2: 0x69, 4: 0x61, 8: 0x79 }[size]!;
    out.push([`sock: read ${size} bytes at ${off}`, tc, checked(F.sk_lookup_tcp, [insn(op, 7, 6, off, 0)])]);
    out.push([`sock_common: read ${size} bytes at ${off}`, tc, checked(F.skc_lookup_tcp, [insn(op, 7, 6, off, 0)])]);
  }
  out.push(['sock: write', tc, checked(F.sk_lookup_tcp, [insn(0x62, 6, 0, 4, 1)])]);
  out.push(['sock: pointer arithmetic', tc, checked(F.sk_lookup_tcp, [insn(0x07, 6, 0, 0, 4)])]);
  out.push(['sock_or_null: pointer arithmetic', tc, [...lookup(F.sk_lookup_tcp), insn(0x07, 0, 0, 0, 4), ...RET0]]);
  out.push(['sock_or_null: read', tc, [...lookup(F.sk_lookup_tcp), ldxw(1, 0, 4), movr(1, 0), call(F.sk_release), ...RET0]]);
  // the release leaves every copy unusable; a second release of a scalar
  out.push(['released twice', tc, checked(F.sk_lookup_tcp, [movr(1, 6), call(F.sk_release)])]);
  out.push([
    'read after release',
    tc,
    [...lookup(F.sk_lookup_tcp), jeq0(0, 4), movr(6, 0), movr(1, 0), call(F.sk_release), ldxw(0, 6, 4), ...RET0],
  ]);
  // casts: bpf_sk_fullsock and bpf_tcp_sock carry the lookup's reference
  const fullsock = (after: Instruction[]) => checked(F.sk_lookup_tcp, [movr(1, 6), call(F.sk_fullsock), jeq0(0, after.length), ...after]);
  out.push(['sk_fullsock of a lookup: read', tc, fullsock([ldxw(7, 0, 8)])]);
  out.push([
    'sk_fullsock: released through the cast',
    tc,
    [...lookup(F.sk_lookup_tcp), jeq0(0, 6), movr(1, 0), call(F.sk_fullsock), jeq0(0, 2), movr(1, 0), call(F.sk_release), ...RET0],
  ]);
  out.push(['sk_fullsock unchecked', tc, checked(F.sk_lookup_tcp, [movr(1, 6), call(F.sk_fullsock), ldxw(7, 0, 8)])]);
  for (const [off, size] of [
    [0, 4],
    [88, 8],
    [80, 8],
    [80, 4],
    [108, 4],
    [112, 4],
    [2, 2],
  ]) {
    const op = { 2: 0x69, 4: 0x61, 8: 0x79 }[size]!;
    out.push([
      `tcp_sock: read ${size} bytes at ${off}`,
      tc,
      checked(F.sk_lookup_tcp, [movr(1, 6), call(F.tcp_sock), jeq0(0, 1), insn(op, 7, 0, off, 0)]),
    ]);
  }
  out.push([
    'tcp_sock of sock_or_null',
    tc,
    [...lookup(F.sk_lookup_tcp), movr(6, 0), movr(1, 0), call(F.tcp_sock), jeq0(6, 2), movr(1, 6), call(F.sk_release), ...RET0],
  ]);
  out.push([
    'get_listener_sock released',
    tc,
    checked(F.skc_lookup_tcp, [movr(1, 6), call(F.get_listener_sock), jeq0(0, 2), movr(1, 0), call(F.sk_release)]),
  ]);
  out.push(['get_listener_sock read', tc, checked(F.skc_lookup_tcp, [movr(1, 6), call(F.get_listener_sock), jeq0(0, 1), ldxw(7, 0, 4)])]);
  // bpf_skc_to_*: PTR_TO_BTF_ID_OR_NULL carrying the lookup's reference (verifier_ref_tracking.c sk_release_btf_tcp_sock)
  const skcTo = (after: Instruction[], func = F.skc_to_tcp_sock) =>
    checked(F.skc_lookup_tcp, [movr(1, 6), call(func), jeq0(0, after.length), ...after]);
  out.push(['skc_to_tcp_sock: read', tc, skcTo([ldxw(7, 0, 4)])]);
  out.push(['skc_to_udp6_sock: read', tc, skcTo([ldxw(7, 0, 4)], F.skc_to_udp6_sock)]);
  out.push(['skc_to_tcp_sock: write', tc, skcTo([insn(0x62, 0, 0, 4, 1)])]);
  out.push(['skc_to_tcp_sock: passed to tcp_sock', tc, skcTo([movr(1, 0), call(F.tcp_sock)])]);
  out.push([
    'skc_to_tcp_sock unchecked, released',
    tc,
    checked(F.skc_lookup_tcp, [movr(1, 6), call(F.skc_to_tcp_sock), movr(1, 0), call(F.sk_release)]),
  ]);
  out.push([
    'skc_to_tcp_sock: released through it',
    tc,
    [
      ...lookup(F.skc_lookup_tcp),
      movr(6, 0),
      jeq0(0, 9),
      movr(1, 0),
      call(F.skc_to_tcp_sock),
      jeq0(0, 4),
      movr(1, 0),
      call(F.sk_release),
      ...RET0,
      movr(1, 6),
      call(F.sk_release),
      ...RET0,
    ],
  ]);
  out.push([
    'skc_to_tcp_sock: read after release',
    tc,
    [
      ...lookup(F.skc_lookup_tcp),
      movr(6, 0),
      jeq0(0, 9),
      movr(1, 0),
      call(F.skc_to_tcp_sock),
      jeq0(0, 4),
      movr(7, 0),
      movr(1, 6),
      call(F.sk_release),
      ldxw(0, 7, 4),
      movr(1, 6),
      call(F.sk_release),
      ...RET0,
    ],
  ]);
  // bpf_sk_assign (tc): a socket, not NULL
  out.push([
    'sk_assign of a checked lookup',
    tc,
    [movr(7, 1), ...checked(F.sk_lookup_tcp, [movr(1, 7), movr(2, 6), mov(3, 0), call(124)])],
  ]);
  out.push(['sk_assign of NULL', tc, [mov(2, 0), mov(3, 0), call(124), ...RET0]]);
  out.push([
    'sk_assign of sock_or_null',
    tc,
    [movr(7, 1), ...lookup(F.sk_lookup_tcp), movr(6, 0), movr(1, 7), movr(2, 6), mov(3, 0), call(124), ...RET0],
  ]);
  // a socket is no memory argument (bpf_csum_diff's `from`)
  out.push(['sock as helper memory', tc, checked(F.sk_lookup_tcp, [movr(1, 6), mov(2, 4), mov(3, 0), mov(4, 0), mov(5, 0), call(28)])]);
  out.push(['release a scalar', tc, [mov(1, 0), call(F.sk_release), ...RET0]]);
  // references and LD_ABS, tail calls
  out.push([
    'LD_ABS holding a reference',
    tc,
    [movr(6, 1), ...lookup(F.sk_lookup_tcp), movr(7, 0), insn(0x20, 0, 0, 0, 0), movr(1, 7), call(F.sk_release), ...RET0],
  ]);
  // __sk_buff.sk: sock_common_or_null (bpf_skb_is_valid_access), for every skb type
  for (const type of [P.BPF_PROG_TYPE_SCHED_CLS, P.BPF_PROG_TYPE_SOCKET_FILTER, P.BPF_PROG_TYPE_CGROUP_SKB]) {
    out.push([`type ${type}: skb->sk checked, family read`, type, [ldxdw(1, 1, SKB_SK), jeq0(1, 1), ldxw(0, 1, 4), ...RET0]]);
    out.push([`type ${type}: skb->sk unchecked read`, type, [ldxdw(1, 1, SKB_SK), ldxw(0, 1, 4), ...RET0]]);
    out.push([`type ${type}: skb->sk type (not sock_common)`, type, [ldxdw(1, 1, SKB_SK), jeq0(1, 1), ldxw(0, 1, 8), ...RET0]]);
    out.push([`type ${type}: skb->sk + 4`, type, [ldxdw(1, 1, SKB_SK), jeq0(1, 1), insn(0x07, 1, 0, 0, 4), ...RET0]]);
  }
  const cg = P.BPF_PROG_TYPE_CGROUP_SKB;
  const sk = [ldxdw(6, 1, SKB_SK), jeq0(6, 0)];
  const fromSk = (rest: Instruction[]): Instruction[] => [sk[0], jeq0(6, rest.length), ...rest, ...RET0];
  out.push(['cgroup_skb: sk_fullsock(skb->sk), type read', cg, fromSk([movr(1, 6), call(F.sk_fullsock), jeq0(0, 1), ldxw(0, 0, 8)])]);
  out.push(['cgroup_skb: tcp_sock(skb->sk), snd_cwnd read', cg, fromSk([movr(1, 6), call(F.tcp_sock), jeq0(0, 1), ldxw(0, 0, 0)])]);
  out.push(['cgroup_skb: release skb->sk', cg, fromSk([movr(1, 6), call(F.sk_release)])]);
  // verifier_jeq_infer_not_null.c: r0 == r7 with r0 known non-NULL makes r7 so on the equal side only
  const infer = (jmp: Instruction[], ok: boolean): Instruction[] => {
    void ok;
    return fromSk([movr(1, 6), call(F.sk_fullsock), movr(7, 0), movr(1, 6), call(F.sk_fullsock), ...jmp]);
  };
  out.push(['jne false branch: not NULL', cg, infer([jeq0(0, 2), insn(0x5d, 0, 7, 1, 0), ldxw(0, 7, 8)], true)]);
  out.push(['jeq true branch: not NULL', cg, infer([jeq0(0, 3), insn(0x1d, 0, 7, 1, 0), insn(0x05, 0, 0, 1, 0), ldxw(0, 7, 8)], true)]);
  out.push([
    'jne true branch: still NULL-able',
    cg,
    infer([insn(0x55, 0, 0, 3, 0), insn(0x5d, 0, 7, 1, 0), insn(0x05, 0, 0, 1, 0), ldxw(0, 7, 8)], false),
  ]);
  return out;
}

describe('differential: socket pointers and references as the kernel verifies them', function () {
  this.timeout(60_000);
  const probe = kernelProbeForSuite('verifier sockets differential');

  it('lookups, releases, casts, struct bpf_sock / bpf_tcp_sock reads, __sk_buff.sk, NULL inference', () => {
    const ps = probes();
    const kernel = probe().ask(ps.map(([, t, p]) => [t, encode(p)] as const));
    const mismatches: string[] = [];
    ps.forEach(([what, type, p], i) => {
      const ours = verdict(p, type);
      if (ours !== kernel[i]) mismatches.push(`${what}: kernel "${kernel[i]}", bpfbox "${ours}"`);
    });
    assert.deepEqual(mismatches, []);
    // both decisions occur (the probes are not all refusals)
    assert.ok(kernel.filter((k) => k === 'ok').length >= 15, kernel.join('\n'));
    assert.ok(kernel.filter((k) => k !== 'ok').length >= 15, kernel.join('\n'));
  });
});

describe('socket lookups at run time', () => {
  it('miss (NULL): bpfbox has no sockets, so the released path is never taken', () => {
    const k = new Kernel({ ncpus: 1, runtime: { seed: 1, clock: () => 1n } });
    // r0 = 1 when the lookup found a socket, 2 when it missed
    const found = [movr(1, 0), call(F.sk_release), mov(0, 1), exit];
    const prog = [...lookup(F.sk_lookup_tcp), jeq0(0, found.length), ...found, mov(0, 2), exit];
    const fd = k.bpf('BPF_PROG_LOAD', { prog_type: P.BPF_PROG_TYPE_SCHED_CLS, insns: encode(prog), license: 'GPL' });
    assert.ok(fd > 0, `load: ${fd}`);
    const attr = { prog_fd: fd, data_in: new Uint8Array(64), data_out: new Uint8Array(128), data_size_out: 0, retval: 0 };
    assert.equal(k.bpf('BPF_PROG_TEST_RUN', attr), 0);
    assert.equal(attr.retval, 2);
  });
});
