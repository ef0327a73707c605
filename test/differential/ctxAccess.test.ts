import assert from 'node:assert/strict';
import { ProgType } from '../../uapi/progType.js';
import { Kernel } from '../../kernel/kernel.js';
import { encode } from '../../vm/decode.js';
import { insn } from '../../vm/instruction.js';
import { kernelProbeForSuite } from '../support/kernelProbe.js';

/**
 * Differential: which context fields each program type may read and write. Every (offset,
 * size, read or write) of xdp_md and __sk_buff, as a small program, goes to the running
 * kernel's verifier (test/differential/c/ctx_probe.c) and to bpfbox's BPF_PROG_LOAD: both must load it
 * or both refuse it, with the same errno and message.
 */
const LDX: Readonly<Record<number, number>> = { 1: 0x71, 2: 0x69, 4: 0x61, 8: 0x79 };
const STX: Readonly<Record<number, number>> = { 1: 0x73, 2: 0x6b, 4: 0x63, 8: 0x7b };
const TYPES: readonly [string, number, number][] = [
  ['xdp', ProgType.BPF_PROG_TYPE_XDP, 24],
  ['socket filter', ProgType.BPF_PROG_TYPE_SOCKET_FILTER, 192],
  ['tc', ProgType.BPF_PROG_TYPE_SCHED_CLS, 192],
];
/**
 * VERIFIED_TYPES: the types bpfbox verifies without running them (hooks/progTypes/cgroupSkb.ts,
 * lwt.ts, skSkb.ts, skMsg.ts, cgroupSock.ts; cgroup_sock as loaded with expected_attach_type 0,
 * which the kernel makes BPF_CGROUP_INET_SOCK_CREATE).
 */
const VERIFIED_TYPES: readonly [string, number, number][] = [
  ['cgroup_skb', ProgType.BPF_PROG_TYPE_CGROUP_SKB, 192],
  ['lwt_in', ProgType.BPF_PROG_TYPE_LWT_IN, 192],
  ['lwt_out', ProgType.BPF_PROG_TYPE_LWT_OUT, 192],
  ['lwt_xmit', ProgType.BPF_PROG_TYPE_LWT_XMIT, 192],
  ['sk_skb', ProgType.BPF_PROG_TYPE_SK_SKB, 192],
  ['sk_msg', ProgType.BPF_PROG_TYPE_SK_MSG, 80],
  ['cgroup_sock', ProgType.BPF_PROG_TYPE_CGROUP_SOCK, 80],
];
/**
 * SOCKET_POINTER_READS: reads of the `sk` field, which give a socket pointer
 * (vm/verifier/sockets.ts): the kernel loads them, and so does bpfbox.
 */
const SOCKET_POINTER_READS = [
  ...['cgroup_skb', 'lwt_in', 'lwt_out', 'lwt_xmit', 'sk_skb'].map((t) => `${t} read 8 at 168`),
  'sk_msg read 8 at 72',
];

interface Probe {
  what: string;
  type: number;
  bytes: Uint8Array;
}

/**
 * packetProbes: for each type with packet pointers (its data and data_end fields, loaded with
 * `ldx`), a one-byte read and a one-byte store after the bounds check, and the same without it.
 */
function packetProbes(): Probe[] {
  const out: Probe[] = [];
  const exit0 = [insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)];
  const fields: readonly [string, number, number, number, number][] = [
    ...VERIFIED_TYPES.filter(([n]) => n !== 'sk_msg' && n !== 'cgroup_sock').map(([n, t]): [string, number, number, number, number] => [
      n,
      t,
      0x61,
      76,
      80,
    ]),
    ['sk_msg', ProgType.BPF_PROG_TYPE_SK_MSG, 0x79, 0, 8],
  ];
  for (const [name, type, ldx, data, dataEnd] of fields) {
    const head = [insn(ldx, 2, 1, data, 0), insn(ldx, 3, 1, dataEnd, 0), insn(0xbf, 4, 2, 0, 0), insn(0x07, 4, 0, 0, 8)];
    const read = insn(0x71, 5, 2, 0, 0);
    const write = insn(0x73, 2, 2, 0, 0);
    for (const [what, access] of [
      ['read', read],
      ['write', write],
    ] as const) {
      out.push({ what: `${name} packet ${what} in bounds`, type, bytes: encode([...head, insn(0x2d, 4, 3, 1, 0), access, ...exit0]) });
      out.push({ what: `${name} packet ${what} unchecked`, type, bytes: encode([...head, access, ...exit0]) });
    }
  }
  return out;
}

function probes(types: readonly [string, number, number][]): Probe[] {
  const out: Probe[] = [];
  const exit0 = [insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)];
  for (const [name, type, size] of types) {
    for (const width of [1, 2, 4, 8]) {
      for (let off = -4; off < size + 8; off++) {
        if (width > 1 && off % width !== 0 && off % 2 !== 0) continue; // a sample of the misaligned ones
        out.push({ what: `${name} read ${width} at ${off}`, type, bytes: encode([insn(LDX[width], 2, 1, off, 0), ...exit0]) });
        out.push({
          what: `${name} write ${width} at ${off}`,
          type,
          bytes: encode([insn(0xb7, 2, 0, 0, 0), insn(STX[width], 1, 2, off, 0), ...exit0]),
        });
      }
    }
    // an atomic add and an immediate store into the context
    out.push({ what: `${name} atomic add at 48`, type, bytes: encode([insn(0xb7, 2, 0, 0, 1), insn(0xc3, 1, 2, 48, 0), ...exit0]) });
    out.push({ what: `${name} immediate store at 48`, type, bytes: encode([insn(0x62, 1, 0, 48, 7), ...exit0]) });
    out.push({ what: `${name} immediate store at 8`, type, bytes: encode([insn(0x62, 1, 0, 8, 7), ...exit0]) });
    // through a copy of the context pointer, moved by a constant
    out.push({
      what: `${name} read via r6 = r1 + 8`,
      type,
      bytes: encode([insn(0xbf, 6, 1, 0, 0), insn(0x07, 6, 0, 0, 8), insn(0x61, 2, 6, 68, 0), ...exit0]),
    });
    out.push({
      what: `${name} write via r6 = r1 + 48`,
      type,
      bytes: encode([insn(0xbf, 6, 1, 0, 0), insn(0x07, 6, 0, 0, 48), insn(0xb7, 2, 0, 0, 0), insn(0x63, 6, 2, 0, 0), ...exit0]),
    });
  }
  return out;
}

/** compare sends each probe to the kernel and to bpfbox's BPF_PROG_LOAD: the mismatches, the probes bpfbox refused as unsupported, and the refusals. */
function compare(ps: readonly Probe[], kernel: readonly string[]): { mismatches: string[]; unsupported: string[]; refused: number } {
  const k = new Kernel();
  const mismatches: string[] = [];
  const unsupported: string[] = [];
  let refused = 0;
  ps.forEach((p, i) => {
    const log = new Uint8Array(4096);
    const fd = k.bpf('BPF_PROG_LOAD', {
      prog_type: p.type,
      insns: p.bytes,
      license: 'GPL',
      log_level: 1,
      log_buf: log,
      log_size: log.length,
    });
    const lastLine =
      new TextDecoder()
        .decode(log.subarray(0, log.indexOf(0)))
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('processed'))
        .at(-1) ?? '';
    const ours = fd >= 0 ? 'ok' : `err ${-fd} ${lastLine.replace(/^insn \d+: /, '')}`;
    if (fd >= 0) k.close(fd);
    else refused++;
    if (/does not model/.test(ours)) unsupported.push(p.what);
    else if (ours !== kernel[i]) mismatches.push(`${p.what}: kernel "${kernel[i]}", bpfbox "${ours}"`);
  });
  return { mismatches, unsupported, refused };
}

describe('differential: context field access per program type agrees with the kernel', function () {
  this.timeout(120_000);
  const probe = kernelProbeForSuite('context access differential');

  it('every offset, size and direction of xdp_md and __sk_buff', () => {
    const ps = probes(TYPES);
    const { mismatches, unsupported, refused } = compare(ps, probe().ask(ps.map((p) => [p.type, p.bytes] as const)));
    assert.deepEqual(mismatches, []);
    assert.deepEqual(unsupported, []);
    assert.ok(refused > ps.length / 2, 'most probes are refused (the tables are narrow)');
  });

  it('the same for the types bpfbox only verifies: cgroup_skb, lwt, sk_skb (__sk_buff), sk_msg (sk_msg_md), cgroup_sock (bpf_sock)', () => {
    const ps = probes(VERIFIED_TYPES);
    const kernel = probe().ask(ps.map((p) => [p.type, p.bytes] as const));
    const { mismatches, unsupported, refused } = compare(ps, kernel);
    assert.deepEqual(mismatches, []);
    // nothing is refused as unsupported, the socket pointer reads included
    assert.deepEqual(unsupported, []);
    for (const what of SOCKET_POINTER_READS) assert.equal(kernel[ps.findIndex((p) => p.what === what)], 'ok', what);
    assert.ok(refused > ps.length / 2, 'most probes are refused (the tables are narrow)');
  });

  it('packet reads and stores through their data and data_end (stores refused for cgroup_skb, lwt_in, lwt_out)', () => {
    const ps = packetProbes();
    const kernel = probe().ask(ps.map((p) => [p.type, p.bytes] as const));
    const { mismatches, unsupported } = compare(ps, kernel);
    assert.deepEqual(mismatches, []);
    assert.deepEqual(unsupported, []);
    // the kernel itself tells the types apart: no rubber stamp
    const ok = ps.filter((_, i) => kernel[i] === 'ok').map((p) => p.what);
    assert.ok(ok.includes('lwt_xmit packet write in bounds') && !ok.includes('lwt_in packet write in bounds'), ok.join(', '));
  });
});
