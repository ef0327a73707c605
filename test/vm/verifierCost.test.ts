import assert from 'node:assert/strict';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { ProgType } from '../../uapi/progType.js';
import { assemble } from '../../vm/asm/assembler.js';
import { encode } from '../../vm/decode.js';
import { verify } from '../../vm/verifier/verify.js';
import { kernelProbeForSuite } from '../support/kernelProbe.js';

/**
 * The verifier's cost on loops that never converge (issue 22, item 8): each is walked to the
 * 1,000,000-instruction limit and refused with E2BIG, keeping states as the kernel's
 * is_state_visited does (a checkpoint every 2 jumps and 8 instructions, in a loop every 20
 * jumps or 100 instructions; a state that misses more than 3 + 3 * hits evicted). The log's
 * statistics line is the running kernel's (6.18, BPF_LOG_STATS), recorded below and asked
 * again of the kernel where it can be (root). Few states kept per instruction is what keeps
 * time and memory linear in the instructions processed.
 */
const LOOPS: readonly { name: string; asm: string; stats: string }[] = [
  {
    // verifier_loops1.c's "infinite loop after a conditional jump"
    name: 'an infinite loop after a conditional jump',
    asm: 'r0 = 5\nif r0 < 4 goto out\nl:\nr0 += 1\ngoto l\nout:\nexit',
    stats: 'processed 1000001 insns (limit 1000000) max_states_per_insn 4 total_states 25000 peak_states 25000 mark_read 0',
  },
  {
    // the bound is a random number: the counter never repeats, no state includes another
    name: 'a counter up to an unknown bound',
    asm: 'call 7\nr2 = r0\nr1 = 0\nl:\nr1 += 1\nif r1 != r2 goto l\nr0 = 0\nexit',
    stats: 'processed 1000001 insns (limit 1000000) max_states_per_insn 4 total_states 25001 peak_states 25001 mark_read 0',
  },
  {
    // 17 instructions counting to 200,000 with work in the body (3.4M instructions to walk it all)
    name: 'a 17-instruction loop counting to 200,000',
    asm: [
      'r1 = 0',
      'r2 = 0',
      'r3 = 1',
      'l:',
      'r2 += r1',
      'r3 ^= r2',
      'r4 = r1',
      'r4 &= 7',
      'r2 += r4',
      'r5 = r3',
      'r5 >>= 3',
      'r3 += r5',
      'r1 += 1',
      'if r1 < 200000 goto l',
      'r0 = r2',
      'r0 &= 1',
      'r0 += 1',
      'exit',
    ].join('\n'),
    stats: 'processed 1000001 insns (limit 1000000) max_states_per_insn 4 total_states 10001 peak_states 10001 mark_read 0',
  },
];

/** walk: the verifier on one loop, once per run of the file (both suites compare the same result). */
const walked = new Map<string, ReturnType<typeof verify>>();
function walk(asm: string): ReturnType<typeof verify> {
  let r = walked.get(asm);
  if (!r)
    walked.set(asm, (r = verify(assemble(asm), { progType: ProgType.BPF_PROG_TYPE_XDP, ops: verifierOpsOf(ProgType.BPF_PROG_TYPE_XDP) })));
  return r;
}

describe('verifier cost: loops walked to the complexity limit keep the kernel’s states', function () {
  this.timeout(600_000);
  for (const l of LOOPS) {
    it(`${l.name}: E2BIG at 1,000,001 instructions, the statistics line recorded from the running kernel`, () => {
      const r = walk(l.asm);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.errno, 7, 'E2BIG');
      assert.equal(r.message, 'BPF program is too large. Processed 1000001 insn');
      assert.equal(r.log[r.log.length - 1], l.stats);
    });
  }
});

describe('verifier cost: the same loops asked of the running kernel', function () {
  this.timeout(600_000);
  const probe = kernelProbeForSuite('verifier cost vs the running kernel');
  it('E2BIG and the statistics line bpfbox writes, for each loop', () => {
    const answers = probe().ask(
      LOOPS.map((l) => [ProgType.BPF_PROG_TYPE_XDP, encode(assemble(l.asm))] as const),
      'stats',
    );
    LOOPS.forEach((l, n) => {
      const r = walk(l.asm);
      const line = r.log[r.log.length - 1];
      assert.match(answers[n], /^err 7 BPF program is too large\. Processed 1000001 insn\|/, l.name);
      assert.ok(answers[n].includes(`|${line}|`), `${l.name}: bpfbox says ${line}, the running kernel ${answers[n]}`);
    });
  });
});
