import assert from 'node:assert/strict';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { type Instruction, insn } from '../../vm/instruction.js';
import { kernelProbeForSuite } from '../support/kernelProbe.js';
import { verdict } from '../support/verdict.js';

/**
 * Differential: helpers whose verifier rules go past their argument kinds (issue 18):
 * bpf_get_stack's and the string probe reads' r0, which do_refine_retval_range bounds by the
 * size argument (verifier_bpf_get_stack.c), and bpf_get_netns_cookie's context-or-NULL
 * argument (verifier_ctx.c), through the running kernel's verifier (test/differential/c/ctx_probe.c,
 * as root) and bpfbox's: the same decision, errno and final message.
 */
const P = ProgType;
const EXIT0 = [insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)];
const call = (id: number): Instruction => insn(0x85, 0, 0, 0, id);
/** lddw: a map by its probe number (BPF_PSEUDO_MAP_FD; one instruction of width 2). */
const lddw = (dst: number, map: number): Instruction[] => [insn(0x18, dst, 1, 0, map)];

/**
 * boundedRead: look up key 0 of probe map 0 (an array of 16-byte values), hand the value to a
 * helper writing at most `size` bytes (`args` set r1..r4; r7 the value), then read the byte at
 * value + r0 once r0 is known nonnegative (`signExtend`: as clang does it, `<<32 s>>32`, first).
 * In bounds when the helper's r0 is bounded by a size below 16.
 */
function boundedRead(helper: number, args: Instruction[], signExtend: boolean): Instruction[] {
  const lookup = [insn(0x62, 10, 0, -4, 0), insn(0xbf, 2, 10, 0, 0), insn(0x07, 2, 0, 0, -4), ...lddw(1, 0), call(1)];
  const use = [
    insn(0xbf, 8, 0, 0, 0),
    ...(signExtend ? [insn(0x67, 8, 0, 0, 32), insn(0xc7, 8, 0, 0, 32)] : []),
    insn(0xc5, 8, 0, 3, 0), // if r8 s< 0 goto exit
    insn(0x0f, 7, 8, 0, 0),
    insn(0x71, 0, 7, 0, 0),
    insn(0xb7, 0, 0, 0, 0),
  ];
  const body = [insn(0xbf, 7, 0, 0, 0), ...args, call(helper), ...use];
  return [insn(0xbf, 6, 1, 0, 0), ...lookup, insn(0x15, 0, 0, body.length, 0), ...body, ...EXIT0];
}

function probes(): [string, number, Instruction[]][] {
  const out: [string, number, Instruction[]][] = [];
  for (const size of [8, 15, 16, 17]) {
    for (const signExtend of [false, true]) {
      const how = signExtend ? ', sign-extended' : '';
      // bpf_get_stack(ctx, value, size, 0)
      const stack = [insn(0xbf, 1, 6, 0, 0), insn(0xbf, 2, 7, 0, 0), insn(0xb7, 3, 0, 0, size), insn(0xb7, 4, 0, 0, 0)];
      out.push([`kprobe: bpf_get_stack into ${size} bytes${how}`, P.BPF_PROG_TYPE_KPROBE, boundedRead(67, stack, signExtend)]);
      // bpf_probe_read_kernel_str(value, size, NULL)
      const str = [insn(0xbf, 1, 7, 0, 0), insn(0xb7, 2, 0, 0, size), insn(0xb7, 3, 0, 0, 0)];
      out.push([`kprobe: bpf_probe_read_kernel_str into ${size} bytes${how}`, P.BPF_PROG_TYPE_KPROBE, boundedRead(115, str, signExtend)]);
    }
  }
  // the size from a register bounded by a branch: r0's bound is the size's largest value
  const varSize = [
    insn(0xbf, 1, 6, 0, 0),
    insn(0xbf, 2, 7, 0, 0),
    insn(0x61, 3, 10, -4, 0),
    insn(0x57, 3, 0, 0, 7),
    insn(0xb7, 4, 0, 0, 0),
  ];
  out.push(['kprobe: bpf_get_stack into (key & 7) bytes', P.BPF_PROG_TYPE_KPROBE, boundedRead(67, varSize, false)]);
  // bpf_get_netns_cookie: the context, NULL, or nothing else
  for (const type of [P.BPF_PROG_TYPE_SOCKET_FILTER, P.BPF_PROG_TYPE_SCHED_CLS, P.BPF_PROG_TYPE_CGROUP_SKB, P.BPF_PROG_TYPE_SK_MSG]) {
    out.push([`type ${type}: bpf_get_netns_cookie(ctx)`, type, [call(122), ...EXIT0]]);
    out.push([`type ${type}: bpf_get_netns_cookie(NULL)`, type, [insn(0xb7, 1, 0, 0, 0), call(122), ...EXIT0]]);
    out.push([`type ${type}: bpf_get_netns_cookie(1)`, type, [insn(0xb7, 1, 0, 0, 1), call(122), ...EXIT0]]);
    out.push([`type ${type}: bpf_get_netns_cookie(fp)`, type, [insn(0xbf, 1, 10, 0, 0), call(122), ...EXIT0]]);
    out.push([`type ${type}: bpf_get_netns_cookie(ctx + 8)`, type, [insn(0x07, 1, 0, 0, 8), call(122), ...EXIT0]]);
  }
  return out;
}

describe('differential: helper arguments and return ranges against the running kernel', function () {
  this.timeout(60_000);
  const probe = kernelProbeForSuite('helper ranges differential');

  it('bpf_get_stack and bpf_probe_read_kernel_str bound r0 by their size; bpf_get_netns_cookie takes the context or NULL', () => {
    const ps = probes();
    const kernel = probe().ask(ps.map(([, t, p]) => [t, encode(p)] as const));
    const mismatches: string[] = [];
    ps.forEach(([what, t, p], i) => {
      const ours = verdict(p, t);
      if (ours !== kernel[i]) mismatches.push(`${what}: kernel "${kernel[i]}", bpfbox "${ours ?? 'unsupported'}"`);
    });
    assert.deepEqual(mismatches, []);
    // no rubber stamp: the kernel accepts some and refuses others of each group
    const ok = ps.filter((_, i) => kernel[i] === 'ok').map(([w]) => w);
    assert.ok(ok.includes('kprobe: bpf_get_stack into 15 bytes') && !ok.includes('kprobe: bpf_get_stack into 17 bytes'), ok.join('; '));
    assert.ok(ok.includes('type 1: bpf_get_netns_cookie(NULL)') && !ok.includes('type 1: bpf_get_netns_cookie(1)'), ok.join('; '));
  });
});
