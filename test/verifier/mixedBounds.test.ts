import assert from 'node:assert/strict';
import { ProgType } from '../../uapi/progType.js';
import { R0, R1, R2, R7, R10, add, call, exit, jeq, jmp, label, lddw, ldx, link, mov, st } from '../../vm/dsl.js';
import type { Instruction } from '../../vm/instruction.js';
import { decidesAsTheKernel, loadVerdict } from '../support/verdict.js';

/**
 * The 64-bit bounds learn from the 32-bit ones (__reg_deduce_mixed_bounds): a u32 loaded from
 * the context (__sk_buff.len: its high half zero) that a 32-bit compare bounds (`if w7 > 12`)
 * is at most 12 as a 64-bit value too, though its bits alone say at most 15. test_tc_dtime.c
 * indexes an array this way. Here the index moves a pointer into a 16-byte array value (map 0
 * of ctx_probe.c) for a 4-byte load: offsets up to 12 fit (hand-computed: 12 + 4 = 16), 13
 * does not, and a verifier that bounds the index by its bits (15) refuses both.
 */
const P = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;
const BPF_FUNC_map_lookup_elem = 1;
const BPF_PSEUDO_MAP_FD = 1;
const indexed = (bound: number): Instruction[] =>
  link([
    ldx('u32', R7, R1, 0), // __sk_buff.len
    st('u32', R10, -4, 0),
    mov(R2, R10),
    add(R2, -4),
    lddw(R1, 0, BPF_PSEUDO_MAP_FD),
    call(BPF_FUNC_map_lookup_elem),
    jeq(R0, 0, 'out'),
    jmp('jgt', R7, bound, 'out', 32),
    add(R0, R7),
    ldx('u32', R0, R0, 0),
    label('out'),
    mov(R0, 0),
    exit(),
  ]);
const CASES: [string, Instruction[], accepted: boolean][] = [
  ['w7 <= 12: a 4-byte load at value + r7 fits the 16 bytes', indexed(12), true],
  ['w7 <= 13: the load may end past the value', indexed(13), false],
];

describe('verifier: 64-bit bounds from 32-bit ones (__reg_deduce_mixed_bounds)', () => {
  for (const [what, p, ok] of CASES)
    it(`${what}: ${ok ? 'accepted' : 'refused'}`, () => {
      const d = loadVerdict(p, P);
      if (ok) assert.equal(d, 'ok');
      else assert.match(d, /^err 13 R0 max value is outside of the allowed memory range$/);
    });
});

describe('differential: 64-bit bounds from 32-bit ones, against the running kernel', function () {
  this.timeout(60_000);
  decidesAsTheKernel(
    'mixed bounds differential',
    P,
    CASES.map(([, p]) => p),
  );
});
