import assert from 'node:assert/strict';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { R0, R1, R2, R6, R7, R8, R9, R10, add, alu64, call, exit, ja, jmp, label, ldx, link, mov, stx, sub } from '../../vm/dsl.js';
import type { Instruction } from '../../vm/instruction.js';
import { kernelProbeForSuite } from '../support/kernelProbe.js';
import { verdict } from '../support/verdict.js';

/**
 * Linked scalars (issue 18 items 4 and 5): a copy of a scalar shares its id, and a comparison's
 * bounds on one reach every register sharing it (sync_linked_regs, with the constant a copy had
 * added: BPF_ADD_CONST); state pruning must then tell linked registers from unlinked ones
 * (check_scalar_ids), or it accepts programs the kernel refuses. Each program reaches `bad`
 * (a read of r9, never written: "R9 !read_ok") only where a link is missing or wrong; the
 * running kernel's decision is the reference (test/differential/c/ctx_probe.c, root).
 */
const P = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;
const PRANDOM = 7; // bpf_get_prandom_u32
const BAD = [label('bad'), mov(R0, R9), exit()];
const OUT = [label('out'), mov(R0, 0), exit()];
/** An unknown byte in `r`, through r0 (the helper clobbers r1-r5). */
const byte = (r: typeof R6) => [call(PRANDOM), alu64('and', R0, 0xff), mov(r, R0)];
/** Some jumps and instructions, so both walkers keep states at the next prune point. */
const pad = (n: string) => [
  mov(R8, 0),
  ...Array.from({ length: 4 }, (_, k) => [jmp('jgt', R8, k + 1, n), ...Array.from({ length: 8 }, () => mov(R8, k))]).flat(),
  label(n),
];
/** A shorter padding (the spilled-id case keeps its state at `join` with this one). */
const shortPad = (n: string) => [
  mov(R8, 0),
  jmp('jgt', R8, 1, n),
  mov(R8, 1),
  jmp('jgt', R8, 2, n),
  mov(R8, 2),
  mov(R8, 3),
  mov(R8, 4),
  label(n),
];

const CASES: [string, Instruction[], 'ok' | 'refused'][] = [
  // r1 = r6; if r1 > 10: r6 <= 10 too, so `if r6 > 10` is never taken
  [
    'a copy bounds its source',
    link([...byte(R6), mov(R1, R6), jmp('jgt', R1, 10, 'out'), jmp('jgt', R6, 10, 'bad'), ...OUT, ...BAD]),
    'ok',
  ],
  // r1 = r6 + 5 <= 10 (r6 a byte): r6 <= 5
  [
    'a copy plus a constant bounds its source shifted',
    link([...byte(R6), mov(R1, R6), add(R1, 5), jmp('jgt', R1, 10, 'out'), jmp('jgt', R6, 5, 'bad'), ...OUT, ...BAD]),
    'ok',
  ],
  // the same, the source compared: r1 = r6 + 5 <= 8 when r6 <= 3
  [
    'the source bounds a copy plus a constant',
    link([...byte(R6), mov(R1, R6), add(R1, 5), jmp('jgt', R6, 3, 'out'), jmp('jgt', R1, 8, 'bad'), ...OUT, ...BAD]),
    'ok',
  ],
  // one bound too tight: refused by both
  [
    'a shifted bound one too tight',
    link([...byte(R6), mov(R1, R6), add(R1, 5), jmp('jgt', R6, 3, 'out'), jmp('jgt', R1, 7, 'bad'), ...OUT, ...BAD]),
    'refused',
  ],
  // a subtracted constant (r1 = r6 - 4 s>= 0 when r6 >= 4)
  [
    'a copy minus a constant',
    link([...byte(R6), mov(R1, R6), sub(R1, 4), jmp('jslt', R1, 0, 'out'), jmp('jlt', R6, 4, 'bad'), ...OUT, ...BAD]),
    'ok',
  ],
  // a spill shares the id: the filled copy is bounded by a comparison of the register
  [
    'a spilled copy is bounded too',
    link([
      ...byte(R6),
      stx('u64', R10, -8, R6),
      jmp('jgt', R6, 10, 'out'),
      ldx('u64', R2, R10, -8),
      jmp('jgt', R2, 10, 'bad'),
      ...OUT,
      ...BAD,
    ]),
    'ok',
  ],
  // a copy made constant by `==`: the kernel's taken side (xdp_headroom.o's level 2 log)
  [
    'a copy compared equal to a constant',
    link([
      ...byte(R7),
      mov(R2, R7),
      jmp('jeq', R2, 0, 'zero'),
      ...OUT,
      label('zero'),
      jmp('jne', R7, 0, 'bad'),
      mov(R0, 0),
      exit(),
      ...BAD,
    ]),
    'ok',
  ],
  // written after the copy: the link is gone (r1 = r6 ; r1 *= 1 drops the id)
  [
    'a copy written since is not linked',
    link([...byte(R6), mov(R1, R6), alu64('mul', R1, 1), jmp('jgt', R1, 10, 'out'), jmp('jgt', R6, 10, 'bad'), ...OUT, ...BAD]),
    'refused',
  ],
  // check_scalar_ids: r6 = r7 on one path only; at `join` the linked state (walked first) must not
  // stand for the unlinked one, where r7 is not bounded by `if r6 > 4`
  [
    'pruning tells linked registers from unlinked ones',
    link([
      ...byte(R6),
      ...byte(R7),
      jmp('jgt', R6, R7, 'join'),
      mov(R6, R7),
      ...pad('p1'),
      label('join'),
      jmp('jgt', R6, 4, 'out'),
      jmp('jgt', R7, 4, 'bad'),
      ...OUT,
      ...BAD,
    ]),
    'refused',
  ],
  // the kernel's own example (check_scalar_ids): r7 = r6 + 1 on one path, r7 = r1 + 1 (r1 a byte
  // unrelated to r6, with the same bounds) on the other; the bounds agree, only the ids tell them apart
  [
    'pruning maps the ids of registers with a constant added',
    link([
      ...byte(R6),
      call(PRANDOM),
      mov(R1, R0),
      alu64('and', R1, 0xff),
      jmp('jgt', R0, 100, 'two'),
      mov(R7, R6),
      add(R7, 1),
      ...pad('p1'),
      ja('join'),
      label('two'),
      mov(R7, R1),
      add(R7, 1),
      label('join'),
      jmp('jgt', R6, 10, 'out'),
      jmp('jgt', R7, 11, 'bad'),
      ...OUT,
      ...BAD,
    ]),
    'refused',
  ],
  // a spilled link too: fp-8 = r6 on one path, an unlinked byte on the other
  [
    'pruning compares the ids of spilled scalars',
    link([
      ...byte(R6),
      ...byte(R7),
      stx('u64', R10, -8, R7),
      jmp('jgt', R6, R7, 'join'),
      stx('u64', R10, -8, R6),
      ...shortPad('p1'),
      label('join'),
      jmp('jgt', R6, 4, 'out'),
      ldx('u64', R1, R10, -8),
      jmp('jgt', R1, 4, 'bad'),
      ...OUT,
      ...BAD,
    ]),
    'refused',
  ],
];

describe('verifier: linked scalars (sync_linked_regs) and their ids in pruning (check_scalar_ids)', function () {
  this.timeout(60_000);
  for (const [what, p, want] of CASES) {
    it(`${what}: ${want}`, () => {
      const v = verdict(p, P);
      if (want === 'ok') assert.equal(v, 'ok');
      else assert.match(v ?? '', /^err 13 R9 !read_ok/);
    });
  }
});

describe('differential: linked scalars, the same decision as the running kernel', function () {
  this.timeout(60_000);
  const probe = kernelProbeForSuite('linked scalars differential');
  it('each program: accepted or refused with the same errno and message', () => {
    const kernel = probe().ask(CASES.map(([, p]) => [P, encode(p)] as const));
    assert.deepEqual(
      CASES.map(([what, p]) => `${what}: ${verdict(p, P)}`),
      CASES.map(([what], n) => `${what}: ${kernel[n]}`),
    );
  });
});
