import assert from 'node:assert/strict';
import { Kernel } from '../../kernel/kernel.js';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { type Item, R0, R1, R2, R3, R4, R5, R6, R10, add, call, exit, ldx, link, mov, st } from '../../vm/dsl.js';

/**
 * The skb-metadata helpers (hooks/helpers/skbMeta.ts) under test-run, against values worked
 * out by hand from the kernel's code (net/core/filter.c, include/net/inet_ecn.h): loopback
 * (test-run's device) has MTU 65536 and a 14-byte hard header.
 */
const XDP = ProgType.BPF_PROG_TYPE_XDP;
const TC = ProgType.BPF_PROG_TYPE_SCHED_CLS;

function load(k: Kernel, type: number, items: Item[]): number {
  const log = new Uint8Array(8192);
  const fd = k.bpf('BPF_PROG_LOAD', {
    prog_type: type,
    insns: encode(link(items)),
    license: 'GPL',
    log_level: 1,
    log_buf: log,
    log_size: log.length,
  });
  assert.ok(fd > 0, new TextDecoder().decode(log.subarray(0, log.indexOf(0))));
  return fd;
}
function run(k: Kernel, fd: number, data: Uint8Array) {
  const a = { prog_fd: fd, data_in: data, data_out: new Uint8Array(4096), retval: 0, data_size_out: 0 };
  assert.equal(k.bpf('BPF_PROG_TEST_RUN', a), 0);
  return { retval: a.retval, data: a.data_out.slice(0, a.data_size_out) };
}
/** An Ethernet + IPv4 frame of `n` bytes with the given TOS and a correct header checksum. */
function ipv4(n: number, tos: number): Uint8Array {
  const f = new Uint8Array(n);
  f.set([0x08, 0x00], 12);
  f.set([0x45, tos, 0, n - 14, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14);
  let s = 0;
  for (let i = 14; i < 34; i += 2) s += (f[i] << 8) | f[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  f.set([(~s >>> 8) & 0xff, ~s & 0xff], 24);
  return f;
}
const checksumOk = (f: Uint8Array) => {
  let s = 0;
  for (let i = 14; i < 34; i += 2) s += (f[i] << 8) | f[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
};
/** bpf_check_mtu(ctx, ifindex, &mtu_len (starting at `given`), len_diff, flags); returns ret * 2^17 + mtu_len when `both`. */
const checkMtu = (ifindex: number, given: number, lenDiff: number, flags: number, both = true): Item[] => [
  st('u32', R10, -4, given),
  mov(R2, ifindex),
  mov(R3, R10),
  add(R3, -4),
  mov(R4, lenDiff),
  mov(R5, flags),
  call(163),
  ...(both ? [mov(R6, R0), ldx('u32', R0, R10, -4)] : []),
  exit(),
];

describe('skb metadata helpers', () => {
  it('bpf_check_mtu (XDP and tc): within loopback MTU, over it FRAG_NEEDED, mtu_len set; flags, unknown devices refused', () => {
    const k = new Kernel({ ncpus: 1 });
    for (const type of [XDP, TC]) {
      assert.equal(run(k, load(k, type, checkMtu(0, 0, 0, 0, false)), ipv4(60, 0)).retval, 0);
      assert.equal(run(k, load(k, type, checkMtu(0, 0, 0, 0)), ipv4(60, 0)).retval, 65536);
      // 60 + 65491 = 65551 > 65536 + 14: FRAG_NEEDED; 65490 fits exactly
      assert.equal(run(k, load(k, type, checkMtu(0, 0, 65491, 0, false)), ipv4(60, 0)).retval, 1);
      assert.equal(run(k, load(k, type, checkMtu(0, 0, 65490, 0, false)), ipv4(60, 0)).retval, 0);
      // *mtu_len as the L3 length
      assert.equal(run(k, load(k, type, checkMtu(1, 65537, 0, 0, false)), ipv4(60, 0)).retval, 1);
      assert.equal(run(k, load(k, type, checkMtu(77, 0, 0, 0, false)), ipv4(60, 0)).retval, -19 >>> 0);
      assert.equal(run(k, load(k, type, checkMtu(0, 0, 0, 2, false)), ipv4(60, 0)).retval, -22 >>> 0);
    }
    // BPF_MTU_CHK_SEGS: tc only, and not with len_diff
    assert.equal(run(k, load(k, XDP, checkMtu(0, 0, 0, 1, false)), ipv4(60, 0)).retval, -22 >>> 0);
    assert.equal(run(k, load(k, TC, checkMtu(0, 0, 0, 1, false)), ipv4(60, 0)).retval, 0);
    assert.equal(run(k, load(k, TC, checkMtu(0, 0, 4, 1, false)), ipv4(60, 0)).retval, -22 >>> 0);
  });
  it('bpf_check_mtu: a device of the table, 1500 unless given', () => {
    const k = new Kernel({
      ncpus: 1,
      runtime: {
        devices: [
          { ifindex: 1, forwarding: true },
          { ifindex: 5, forwarding: true, mtu: 9000 },
        ],
      },
    });
    assert.equal(run(k, load(k, XDP, checkMtu(5, 0, 0, 0)), ipv4(60, 0)).retval, 9000);
    assert.equal(run(k, load(k, XDP, checkMtu(5, 9001, 0, 0, false)), ipv4(60, 0)).retval, 1);
  });
  it('bpf_skb_ecn_set_ce: ECT(0)/ECT(1) become CE with the IPv4 checksum kept right; not-ECT stays and says 0', () => {
    const k = new Kernel({ ncpus: 1 });
    const fd = load(k, TC, [call(97), exit()]);
    for (const [tos, ret, after] of [
      [0x00, 0, 0x00],
      [0x01, 1, 0x03],
      [0x02, 1, 0x03],
      [0x03, 1, 0x03],
      [0xb9, 1, 0xbb],
    ]) {
      const r = run(k, fd, ipv4(60, tos));
      assert.equal(r.retval, ret, `tos ${tos}`);
      assert.equal(r.data[15], after);
      assert.ok(checksumOk(r.data), `tos ${tos}: checksum`);
    }
  });
  it('bpf_csum_level: QUERY -EACCES on CHECKSUM_NONE; INC makes it UNNECESSARY at 0, again 1; DEC, RESET; bad level -EINVAL', () => {
    const k = new Kernel({ ncpus: 1 });
    const seq = (levels: number[]): Item[] => [mov(R6, R1), ...levels.flatMap((l) => [mov(R1, R6), mov(R2, l), call(135)]), exit()];
    assert.equal(run(k, load(k, TC, seq([0])), ipv4(60, 0)).retval, -13 >>> 0);
    assert.equal(run(k, load(k, TC, seq([1, 0])), ipv4(60, 0)).retval, 0);
    assert.equal(run(k, load(k, TC, seq([1, 1, 0])), ipv4(60, 0)).retval, 1);
    assert.equal(run(k, load(k, TC, seq([1, 1, 1, 1, 1, 0])), ipv4(60, 0)).retval, 3);
    assert.equal(run(k, load(k, TC, seq([1, 1, 2, 0])), ipv4(60, 0)).retval, 0);
    assert.equal(run(k, load(k, TC, seq([1, 2, 0])), ipv4(60, 0)).retval, -13 >>> 0);
    assert.equal(run(k, load(k, TC, seq([1, 3, 0])), ipv4(60, 0)).retval, -13 >>> 0);
    assert.equal(run(k, load(k, TC, seq([4])), ipv4(60, 0)).retval, -22 >>> 0);
  });
  it('bpf_skb_change_type sets pkt_type up to PACKET_OTHERHOST; bpf_skb_set_tstamp checks type and stamp', () => {
    const k = new Kernel({ ncpus: 1 });
    const ct = (t: number): Item[] => [mov(R6, R1), mov(R2, t), call(32), mov(R1, 0), ldx('u32', R1, R6, 4), add(R0, R1), exit()];
    assert.equal(run(k, load(k, TC, ct(3)), ipv4(60, 0)).retval, 3);
    assert.equal(run(k, load(k, TC, ct(4)), ipv4(60, 0)).retval, (-22 >>> 0) + 0);
    const ts = (stamp: number, type: number): Item[] => [mov(R2, stamp), mov(R3, type), call(192), exit()];
    assert.equal(run(k, load(k, TC, ts(5, 1)), ipv4(60, 0)).retval, 0);
    assert.equal(run(k, load(k, TC, ts(0, 1)), ipv4(60, 0)).retval, -22 >>> 0);
    assert.equal(run(k, load(k, TC, ts(0, 0)), ipv4(60, 0)).retval, 0);
    assert.equal(run(k, load(k, TC, ts(5, 3)), ipv4(60, 0)).retval, -22 >>> 0);
  });
  it('bpf_get_current_task is nonzero; bpf_probe_read_kernel through it faults (-EFAULT, buffer zeroed), a user address -ERANGE', () => {
    const k = new Kernel({ ncpus: 1 });
    const read = (fromTask: boolean): Item[] => [
      st('u64', R10, -8, 0x7777),
      ...(fromTask ? [call(35), mov(R3, R0)] : [mov(R3, 0)]),
      mov(R1, R10),
      add(R1, -8),
      mov(R2, 8),
      call(113),
      mov(R6, R0),
      ldx('u64', R0, R10, -8),
      add(R0, R6),
      exit(),
    ];
    assert.notEqual(run(k, load(k, TC, [call(35), exit()]), ipv4(60, 0)).retval, 0);
    assert.equal(run(k, load(k, TC, read(true)), ipv4(60, 0)).retval, -14 >>> 0);
    assert.equal(run(k, load(k, TC, read(false)), ipv4(60, 0)).retval, -34 >>> 0);
  });
});
