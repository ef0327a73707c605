import assert from 'node:assert/strict';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { R0, R1, R2, R3, R8, R9, R10, add, alu64, call, exit, ja, jmp, label, lddw, ldx, link, mov, st, stx } from '../../vm/dsl.js';
import type { Instruction } from '../../vm/instruction.js';
import { kernelProbeForSuite } from '../support/kernelProbe.js';
import { verdict } from '../support/verdict.js';

/**
 * Stack pointers with a variable offset (issue 18 item 4; privileged): `r1 = r10; r1 += r0`
 * reads and writes every byte its bounds reach (check_stack_access_within_bounds,
 * check_stack_read_var_off, check_stack_write_var_off), and a helper may take such a pointer
 * (check_stack_range_initialized). Each program's expected outcome is hand-derived from the
 * bounds in its comment; the running kernel's decision and message are the reference.
 */
const P = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;
const PRANDOM = 7; // bpf_get_prandom_u32
const LOOKUP = 1; // bpf_map_lookup_elem
/** r1 = fp + `off` + (a random value & `mask`). */
const varPtr = (off: number, mask: number) => [call(PRANDOM), alu64('and', R0, mask), mov(R1, R10), add(R1, off), add(R1, R0)];
const OK = [mov(R0, 0), exit()];

const CASES: [string, Instruction[], string | RegExp][] = [
  // fp-16 + {0, 8}: a write then a read of 8 bytes, both slots in reach
  ['a write and a read at fp-16+{0,8}', link([...varPtr(-16, 8), st('u64', R1, 0, 1), ldx('u64', R0, R1, 0), exit()]), 'ok'],
  // fp-16 + {0, 4}: an 8-byte access is not aligned
  [
    'a misaligned variable offset',
    link([...varPtr(-16, 4), ldx('u64', R0, R1, 0), exit()]),
    /misaligned stack access off \(0x0; 0x4\)\+-16\+0 size 8/,
  ],
  // fp-8 + {0, 16}: the highest 8 bytes would be at fp+8
  [
    'past the frame pointer',
    link([...varPtr(-8, 16), st('u64', R1, 0, 0), ...OK]),
    /invalid variable-offset write to stack R1 var_off=\(0x0; 0x10\) off=-8 size=8/,
  ],
  // fp-520 + {0, 8}: the lowest byte is below the 512-byte stack
  [
    'below the stack',
    link([...varPtr(-520, 8), ldx('u64', R0, R1, 0), exit()]),
    /invalid variable-offset read from stack R1 var_off=\(0x0; 0x8\) off=-520 size=8/,
  ],
  // `*(u64 *)(r10 -8) = 0` at a slot's start is a spilled constant (privileged), not STACK_ZERO
  // bytes, and mark_reg_stack_read gives 0 only for those: the read is unknown, the r9 read reached
  [
    'spilled zeros do not read back as zero',
    link([
      st('u64', R10, -8, 0),
      st('u64', R10, -16, 0),
      ...varPtr(-16, 8),
      ldx('u64', R2, R1, 0),
      jmp('jne', R2, 0, 'bad'),
      ...OK,
      label('bad'),
      mov(R0, R9),
      exit(),
    ]),
    /R9 !read_ok/,
  ],
  // a zero on one slot and a one on the other: the read is unknown, the r9 read is reached
  [
    'a read is zero only when every byte is',
    link([
      st('u64', R10, -8, 0),
      st('u64', R10, -16, 1),
      ...varPtr(-16, 8),
      ldx('u64', R2, R1, 0),
      jmp('jne', R2, 0, 'bad'),
      ...OK,
      label('bad'),
      mov(R0, R9),
      exit(),
    ]),
    /R9 !read_ok/,
  ],
  // a spilled pointer in reach of a variable write is gone: filled back, it is a scalar
  [
    'a variable write scrubs a spilled pointer',
    link([stx('u64', R10, -8, R10), ...varPtr(-16, 8), st('u64', R1, 0, 0), ldx('u64', R2, R10, -8), ldx('u64', R0, R2, -8), exit()]),
    /R2 invalid mem access 'scalar'/,
  ],
  // a map key at fp-16+{0,8} (4 bytes, in bounds): a helper reads it
  [
    'a helper reads a key at a variable offset',
    link([st('u64', R10, -8, 0), st('u64', R10, -16, 0), ...varPtr(-16, 8), mov(R2, R1), lddw(R1, 0, 1), call(LOOKUP), ...OK]),
    'ok',
  ],
  // the same key past the frame pointer
  [
    'a helper key past the frame pointer',
    link([...varPtr(-4, 8), mov(R2, R1), lddw(R1, 0, 1), call(LOOKUP), ...OK]),
    /invalid variable-offset read from stack R2 var_off=\(0x0; 0x8\) off=-4 size=4/,
  ],
  // pruning: fp-8 on one path, fp-8+{0,8} on the other; the second's write may reach fp+0
  [
    'pruning tells a variable offset from a fixed one',
    link([
      call(PRANDOM),
      mov(R3, R0),
      alu64('and', R3, 8),
      mov(R1, R10),
      add(R1, -8),
      jmp('jgt', R0, 100, 'var'),
      // the fixed path, walked first: its state is kept at `join`
      mov(R8, 0),
      jmp('jgt', R8, 1, 'join'),
      mov(R8, 1),
      mov(R8, 2),
      mov(R8, 3),
      mov(R8, 4),
      jmp('jgt', R8, 5, 'join'),
      ...Array.from({ length: 8 }, (_, n) => mov(R8, n)),
      ja('join'),
      label('var'),
      add(R1, R3),
      label('join'),
      st('u64', R1, 0, 0),
      ...OK,
    ]),
    /invalid variable-offset write to stack R1 var_off=\(0x0; 0x8\) off=-8 size=8/,
  ],
];

describe('verifier: stack pointers with a variable offset', function () {
  this.timeout(60_000);
  for (const [what, p, want] of CASES) {
    it(`${what}: ${want}`, () => {
      const v = verdict(p, P) ?? 'not modelled';
      if (typeof want === 'string') assert.equal(v, want);
      else assert.match(v, want);
    });
  }
});

describe('differential: stack pointers with a variable offset, the same decision as the running kernel', function () {
  this.timeout(60_000);
  const probe = kernelProbeForSuite('variable stack offsets differential');
  it('each program: accepted or refused with the same errno and message', () => {
    const kernel = probe().ask(CASES.map(([, p]) => [P, encode(p)] as const));
    assert.deepEqual(
      CASES.map(([what, p]) => `${what}: ${verdict(p, P)}`),
      CASES.map(([what], n) => `${what}: ${kernel[n]}`),
    );
  });
});
