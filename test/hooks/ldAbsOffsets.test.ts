import assert from 'node:assert/strict';
import { Kernel } from '../../kernel/kernel.js';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { R0, R1, R6, R7, exit, ldabs, ldind, link, mov } from '../../vm/dsl.js';

/**
 * LD_ABS / LD_IND with the negative offsets of bpf_internal_load_pointer_neg_helper
 * (net/core/filter.c): [SKF_NET_OFF, 0) count from the network header, [SKF_LL_OFF,
 * SKF_NET_OFF) from the link-layer header, lower ones find nothing (the program ends, r0 = 0).
 * The expected bytes are the hand-built frame's. The kernel's verifier_ref_tracking.c
 * reference_tracking_allow_ld_ind reads SKF_LL_OFF + 1 and returns 1.
 */
const SKF_NET_OFF = -0x100000;
const SKF_LL_OFF = -0x200000;

/** An Ethernet frame (type 0x0800) with an IPv4 header (protocol 17, TTL 64) and 8 bytes of UDP. */
const FRAME = Uint8Array.from([
  ...[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00],
  ...[0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2],
  ...[0, 53, 0, 53, 0, 8, 0, 0],
]);

function run(type: number, items: Parameters<typeof link>[0]): number {
  const k = new Kernel({ ncpus: 1, runtime: { seed: 1, clock: () => 1n } });
  const fd = k.bpf('BPF_PROG_LOAD', { prog_type: type, insns: encode(link(items)), license: 'GPL' });
  assert.ok(fd > 0, `load: ${fd}`);
  const a = { prog_fd: fd, data_in: FRAME, data_out: new Uint8Array(256), data_size_out: 0, retval: 0 };
  assert.equal(k.bpf('BPF_PROG_TEST_RUN', a), 0);
  return a.retval;
}

describe('LD_ABS / LD_IND at SKF_NET_OFF and SKF_LL_OFF', () => {
  for (const [name, type] of [
    ['socket filter', ProgType.BPF_PROG_TYPE_SOCKET_FILTER],
    ['tc', ProgType.BPF_PROG_TYPE_SCHED_CLS],
  ] as const) {
    it(`${name}: the network header's protocol, the link-layer header's type, nothing below SKF_LL_OFF`, () => {
      assert.equal(run(type, [mov(R6, R1), ldabs('u8', SKF_NET_OFF + 9), exit()]), 17);
      assert.equal(run(type, [mov(R6, R1), ldabs('u16', SKF_LL_OFF + 12), exit()]), 0x0800);
      assert.equal(run(type, [mov(R6, R1), ldabs('u8', SKF_LL_OFF + 14), exit()]), 0x45);
      // LD_IND: 1 + SKF_LL_OFF is the destination MAC's second byte
      assert.equal(run(type, [mov(R6, R1), mov(R7, 1), ldind('u8', R7, SKF_LL_OFF), exit()]), 0);
      assert.equal(run(type, [mov(R6, R1), mov(R7, 5), ldind('u8', R7, SKF_LL_OFF), exit()]), 1);
      // below SKF_LL_OFF: the program ends with r0 = 0
      assert.equal(run(type, [mov(R6, R1), mov(R0, 7), ldabs('u8', SKF_LL_OFF - 1), mov(R0, 7), exit()]), 0);
    });
  }
});
