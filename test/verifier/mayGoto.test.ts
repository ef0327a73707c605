import assert from 'node:assert/strict';
import { ProgType } from '../../uapi/progType.js';
import { R0, R5, R6, add, alu64, callLocal, exit, ja, jmp, label, link, mayGoto, mov } from '../../vm/dsl.js';
import { type Instruction, insn } from '../../vm/instruction.js';
import { BPF_MAX_LOOPS, MAY_GOTO } from '../../vm/opcodes.js';
import { verify } from '../../vm/verifier/verify.js';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { engines, run } from '../support/run.js';
import { decidesAsTheKernel, loadVerdict } from '../support/verdict.js';

/**
 * may_goto (BPF_JMP | BPF_JCOND, 0xe5; 6.9+, what libbpf's `can_loop` and `bpf_for` emit): the
 * verifier walks the target first and keeps the fall-through (one more iteration) one
 * may_goto deeper, widened against the pass before, until a deeper state is within an earlier
 * one (the loop converged); at run time each call of a function gets BPF_MAX_LOOPS iterations.
 */
const P = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;

/** count: r0 counts the loop's iterations; only may_goto ends the loop. */
const count = (): Instruction[] => link([mov(R0, 0), label('loop'), mayGoto('done'), add(R0, 1), ja('loop'), label('done'), exit()]);

/** raw: a may_goto with the given fields (its offset 1 by default: skips `r0 = 1`), then `r0 = 0; exit`. */
const raw = (f: { src?: number; dst?: number; imm?: number; off?: number }): Instruction[] => [
  insn(MAY_GOTO, f.dst ?? 0, f.src ?? 0, f.off ?? 1, f.imm ?? 0),
  ...link([mov(R0, 1), mov(R0, 0), exit()]),
];

/** bounded: after the loop, r6 (the iterations, widened by the verifier) past `limit` reads r5, never written. */
const bounded = (limit: number): Instruction[] =>
  link([
    mov(R6, 0),
    label('loop'),
    mayGoto('done'),
    add(R6, 1),
    ja('loop'),
    label('done'),
    jmp('jgt', R6, limit, 'bad'),
    mov(R0, 0),
    exit(),
    label('bad'),
    mov(R0, R5),
    exit(),
  ]);

/** exact: a loop that also ends by itself after 3 passes; the verifier's states at may_goto stay exact (r6 precise). */
const exact = (): Instruction[] =>
  link([
    mov(R6, 0),
    label('loop'),
    mayGoto('done'),
    add(R6, 1),
    jmp('jlt', R6, 3, 'loop'),
    label('done'),
    jmp('jgt', R6, 3, 'bad'),
    mov(R0, 0),
    exit(),
    label('bad'),
    mov(R0, R5),
    exit(),
  ]);

const CASES: [string, Instruction[], RegExp][] = [
  ['a loop bounded only by may_goto', count(), /^ok$/],
  ['the count past the loop is not known (a path reads r5)', bounded(1000), /^err 13 R5 !read_ok$/],
  ['a loop that ends by itself within may_goto', exact(), /^ok$/],
  ['may_goto with imm 1', raw({ imm: 1 }), /^err 22 invalid may_goto imm 1$/],
  ['may_goto with src 1', raw({ src: 1 }), /^err 22 invalid may_goto imm 0$/],
  ['may_goto with dst 2', raw({ dst: 2 }), /^err 22 invalid may_goto imm 0$/],
  ['may_goto with offset 0', raw({ off: 0 }), /^.*$/],
];

describe('verifier: may_goto (check_cond_jmp_op BPF_JCOND, is_state_visited)', () => {
  for (const [what, p, want] of CASES.slice(0, 6))
    it(`${what}: ${want.source}`, () => {
      assert.match(loadVerdict(p, P), want);
    });
  it('prints `N: (e5) may_goto pc+M` at log level 2, as print_bpf_insn does', () => {
    const v = verify(count(), { progType: P, ops: verifierOpsOf(P), logLevel: 2 });
    assert.ok(v.ok);
    const lines = v.log.filter((l) => /may_goto/.test(l));
    assert.ok(lines.length > 0);
    for (const l of lines) assert.match(l, /^1: \(e5\) may_goto pc\+2$/);
  });
  it("walks the count loop as the running kernel does (6.18's level-2 log: its instruction and `from` lines, 14 processed)", () => {
    // copied from the log BPF_PROG_LOAD gave for count() at log_level 2 on 6.18 (NOTES-maygoto.md has the loader)
    const pass = (r0: string) => [`from 1 to 2: R0=${r0} R1=ctx() R10=fp0`, '2: (07) r0 += 1', '3: (05) goto pc-3'];
    const kernel = [
      '0: (b7) r0 = 0',
      '1: (e5) may_goto pc+2',
      '4: (95) exit',
      ...pass('0'),
      '1: (e5) may_goto pc+2',
      '4: (95) exit',
      ...pass('scalar()'),
      '1: (e5) may_goto pc+2',
      '4: (95) exit',
      ...pass('scalar()'),
      '1: safe',
    ];
    const v = verify(count(), { progType: P, ops: verifierOpsOf(P), logLevel: 2 });
    const lines = v.log.filter((l) => /^(\d+: \(|from |\d+: safe)/.test(l)).map((l) => l.replace(/\s+;.*$/, '').trim());
    assert.deepEqual(lines, kernel);
    assert.match(v.log.at(-1)!, /^processed 14 insns/);
  });
});

describe('differential: may_goto, against the running kernel', function () {
  this.timeout(60_000);
  decidesAsTheKernel(
    'may_goto differential',
    P,
    CASES.map(([, p]) => p),
  );
});

for (const engine of engines) {
  describe(`may_goto at run time (${engine.name})`, function () {
    this.timeout(120_000);
    it(`a loop bounded only by may_goto runs BPF_MAX_LOOPS (${BPF_MAX_LOOPS}) times`, () => {
      assert.equal(run(count(), { engine }).r0, BigInt(8 * 1024 * 1024));
    });
    it('each call of a function gets its own counter (two calls: twice as many)', () => {
      const p = [
        callLocal('sub'),
        mov(R6, R0),
        callLocal('sub'),
        alu64('add', R0, R6),
        exit(),
        label('sub'),
        mov(R0, 0),
        label('loop'),
        mayGoto('done'),
        add(R0, 1),
        ja('loop'),
        label('done'),
        exit(),
      ];
      assert.equal(run(p, { engine }).r0, 2n * 8n * 1024n * 1024n);
    });
    it('a loop that ends by itself leaves the counter for the next loop of the same call', () => {
      // 5 passes of the first loop, then the second takes what is left: BPF_MAX_LOOPS - 5
      const p = [
        mov(R6, 0),
        label('a'),
        mayGoto('b'),
        add(R6, 1),
        jmp('jlt', R6, 5, 'a'),
        label('b'),
        mov(R0, 0),
        label('c'),
        mayGoto('d'),
        add(R0, 1),
        ja('c'),
        label('d'),
        exit(),
      ];
      assert.equal(run(p, { engine }).r0, BigInt(8 * 1024 * 1024 - 5));
    });
  });
}
