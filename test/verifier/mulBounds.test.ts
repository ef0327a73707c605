import assert from 'node:assert/strict';
import { ProgType } from '../../uapi/progType.js';
import { R0, R1, R5, alu64, call, exit, jmp, label, link, mov, sub } from '../../vm/dsl.js';
import type { Instruction } from '../../vm/instruction.js';
import { decidesAsTheKernel, loadVerdict } from '../support/verdict.js';

/**
 * The signed bounds of a multiply (scalar_min_max_mul as of 6.14, the running kernel's): the
 * least and the most of the four corner products of the operands' signed ranges, where none
 * overflows (before, only two nonnegative operands kept signed bounds). Each program puts
 * r0 in [-3, 4] (a random number & 7, less 3), multiplies, and compares the product with a
 * bound; past the bound, `r0 = r5` reads a register never written. A verifier that knows the
 * bound never walks there and accepts; one that does not refuses with `R5 !read_ok`. The
 * bounds are hand-computed: [-3, 4] * 28 is [-84, 112]; [-3, 4] * [-3, 4] is [-12, 16] (the
 * corners 9, -12, -12, 16: the verifier does not know it is a square).
 */
const P = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;
const BPF_FUNC_get_prandom_u32 = 7;
const past = (bound: 'jsgt' | 'jslt', value: number, square = false): Instruction[] =>
  link([
    call(BPF_FUNC_get_prandom_u32),
    alu64('and', R0, 7),
    sub(R0, 3),
    ...(square ? [mov(R1, R0), alu64('mul', R0, R1)] : [alu64('mul', R0, 28)]),
    jmp(bound, R0, value, 'bad'),
    mov(R0, 0),
    exit(),
    label('bad'),
    mov(R0, R5),
    exit(),
  ]);
const CASES: [string, Instruction[], accepted: boolean][] = [
  ['[-3, 4] * 28 is at most 112', past('jsgt', 112), true],
  ['[-3, 4] * 28 may be 112', past('jsgt', 111), false],
  ['[-3, 4] * 28 is at least -84', past('jslt', -84), true],
  ['[-3, 4] * 28 may be -84', past('jslt', -83), false],
  ['[-3, 4] * [-3, 4] is at most 16', past('jsgt', 16, true), true],
  ['[-3, 4] * [-3, 4] may be 16 (as the verifier sees it)', past('jsgt', 15, true), false],
  ['[-3, 4] * [-3, 4] is at least -12 (as the verifier sees it)', past('jslt', -12, true), true],
];

describe('verifier: the signed bounds of a multiply (scalar_min_max_mul)', () => {
  for (const [what, p, ok] of CASES)
    it(`${what}: ${ok ? 'accepted' : 'refused, R5 !read_ok'}`, () => {
      const d = loadVerdict(p, P);
      if (ok) assert.equal(d, 'ok');
      else assert.match(d, /^err 13 R5 !read_ok$/);
    });
});

describe('differential: the signed bounds of a multiply, against the running kernel', function () {
  this.timeout(60_000);
  decidesAsTheKernel(
    'multiply bounds differential',
    P,
    CASES.map(([, p]) => p),
  );
});
