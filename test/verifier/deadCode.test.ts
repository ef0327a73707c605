import assert from 'node:assert/strict';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { R0, R1, R5, R6, R10, add, callLocal, exit, ja, jeq, jmp, label, lddw, link, mov } from '../../vm/dsl.js';
import { HelperRegistry } from '../../vm/helpers.js';
import type { Instruction } from '../../vm/instruction.js';
import { createMachine } from '../../vm/machine.js';
import { AddressSpace } from '../../vm/memory.js';
import { type VerifiedProgram, verifyProgram } from '../../vm/verifier/verified.js';
import { kernelProbeForSuite } from '../support/kernelProbe.js';
import { engines } from '../support/run.js';
import { PROBE_MAPS, lastLine } from '../support/verdict.js';

/**
 * Dead code (issue 18 item 4): the kernel walks only what some path reaches and turns the rest
 * into `ja -1` (sanitize_dead_code), so a dead instruction reading a register never written, or
 * writing r10, does not refuse the program. bpfbox's load checks (vm/program.ts) once ran on
 * every instruction and refused these ("the verifier accepted what the load checks refuse").
 * Each program returns 7 on its one live path (hand-computed); the kernel's verifier is asked
 * through test/differential/c/ctx_probe.c (root), and both engines run bpfbox's copy.
 */
const P = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;
const CASES: [string, Instruction[]][] = [
  // r0 is 7, so `if r0 == 7` is always taken: `r0 = r5` (r5 never written) is dead
  ['a dead read of an unset register', link([mov(R0, 7), jeq(R0, 7, 'out'), mov(R0, R5), label('out'), exit()])],
  // a dead write to the frame pointer
  ['a dead write to r10', link([mov(R0, 7), jeq(R0, 7, 'out'), mov(R10, 0), label('out'), exit()])],
  // a dead lddw (two slots) then a dead read: the jump over them keeps its target
  ['a dead lddw and read', link([mov(R0, 7), jeq(R0, 7, 'out'), lddw(R1, 1n << 40n), mov(R0, R5), label('out'), exit()])],
  // dead code before live code: the live tail after it still runs
  [
    'dead code between live parts',
    link([
      mov(R1, 3),
      jeq(R1, 3, 'live'),
      mov(R0, R5),
      exit(),
      label('live'),
      mov(R0, R1),
      jeq(R0, 3, 'out'),
      mov(R0, 0),
      label('out'),
      mov(R0, 7),
      exit(),
    ]),
  ],
];

/**
 * Live code whose reads are initialised on every path that reaches them, though not on every
 * path of the flow graph (verifier_loops1.c jumps_out_rather_than_in, verifier_precision.c
 * bpf_cond_op_r10): the load checks once refused these too ("R0 !read_ok").
 */
const LIVE: [string, Instruction[], r0: bigint][] = [
  // the loop's exit test is not taken on the first pass, where r0 is not yet written: r0 = 3
  [
    'a loop that jumps out after writing r0',
    link([mov(R6, 0), label('top'), add(R6, 1), jmp('jgt', R6, 3, 'out'), mov(R0, R6), ja('top'), label('out'), exit()]),
    3n,
  ],
  // a callee that exits without writing r0, for a caller that sets r0 after the call
  ['a callee that leaves r0 unset', link([callLocal('sub'), mov(R0, 7), exit(), label('sub'), exit()]), 7n],
];

describe('verifier: dead code is neither checked nor run (sanitize_dead_code)', function () {
  this.timeout(60_000);
  for (const [what, p] of CASES) {
    it(`${what}: accepted, the dead slots are ja -1, and both engines return 7`, () => {
      const program = accepted(p);
      const { result } = verifyProgram(p, { progType: P, ops: verifierOpsOf(P), maps: PROBE_MAPS });
      const deadSlots = [...result.seen].flatMap((s, i) => (s ? [] : [i]));
      assert.ok(deadSlots.length > 0, 'the program has dead code');
      // the slots keep their indexes; dead ones are `ja -1`, live ones unchanged
      assert.equal(program.slots.length, result.seen.length);
      for (const s of deadSlots) {
        const i: Instruction | undefined = program.slots.at[s];
        if (i) assert.deepEqual([i.opcode, i.offset], [0x05, -1], `slot ${s}`);
      }
      runs(program, 7n);
    });
  }
  for (const [what, p, r0] of LIVE) {
    it(`${what}: accepted, and both engines return ${r0}`, () => runs(accepted(p), r0));
  }
});

/** accepted: the program as BPF_PROG_LOAD would hold it (verifier, then the load checks); fails the test if refused. */
function accepted(p: readonly Instruction[]): VerifiedProgram {
  const { result, program } = verifyProgram(p, { progType: P, ops: verifierOpsOf(P), maps: PROBE_MAPS });
  assert.ok(program, result.ok ? '' : result.message);
  return program;
}

/** runs: every engine returns `r0` (the programs read no context). */
function runs(program: VerifiedProgram, r0: bigint): void {
  for (const engine of engines) {
    const memory = new AddressSpace({ initialBytes: 1 << 16 });
    const machine = createMachine({ memory, helpers: new HelperRegistry([]) });
    assert.equal(engine.prepare(program, machine, { budget: 100_000 }).run({ r1: 0 }), r0, engine.name);
  }
}

describe('differential: dead code the kernel accepts, bpfbox accepts', function () {
  this.timeout(60_000);
  const probe = kernelProbeForSuite('dead-code differential');
  it('the same decision as the running kernel for each program', () => {
    const all = [...CASES, ...LIVE];
    const kernel = probe().ask(all.map(([, p]) => [P, encode(p)] as const));
    // verifyProgram: the verifier and then the load checks, as BPF_PROG_LOAD runs them
    const ours = all.map(([, p]) => {
      const { result, program } = verifyProgram(p, { progType: P, ops: verifierOpsOf(P), maps: PROBE_MAPS });
      return program ? 'ok' : `err ${result.ok ? 0 : result.errno} ${lastLine(result.log)}`;
    });
    assert.deepEqual(ours, kernel);
    assert.deepEqual(
      kernel,
      all.map(() => 'ok'),
    );
  });
});
