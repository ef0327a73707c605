import assert from 'node:assert/strict';
import { R0, R1, R2, R3, R6, R10, add, alu64, call, callLocal, callx, exit, ja, label, ldx, link, mov, st, stx } from '../vm/dsl.js';
import type { Prepared } from '../vm/engine.js';
import { LoadError, RuntimeError } from '../vm/errors.js';
import { type Helper, HelperRegistry } from '../vm/helpers.js';
import { interpreter } from '../vm/interpreter/interpreter.js';
import { createMachine } from '../vm/machine.js';
import { checkProgram } from '../vm/program.js';
import { engines, run } from './support/run.js';

const sum3: Helper = { id: 1, name: 'test_sum3', fn: (a, b, c) => a + b + c };

for (const engine of engines) {
  describe(`calls (${engine.name})`, () => {
    it('a helper gets r1-r5 and returns r0', () => {
      const r = run([mov(R1, 40), mov(R2, 1), mov(R3, 1), call(1), exit()], { engine, helpers: [sum3] });
      assert.equal(r.r0, 42n);
    });
    it('callx calls the helper whose id is in the register', () => {
      const r = run([mov(R6, 1), mov(R1, 1), mov(R2, 2), mov(R3, 3), callx(R6), exit()], { engine, helpers: [sum3] });
      assert.equal(r.r0, 6n);
    });
    it('an unknown helper id is refused when the program is prepared', () => {
      assert.throws(
        () => run([call(999), exit()], { engine }),
        (e: unknown) => e instanceof LoadError && /insn 0: invalid func unknown#999/.test(e.message),
      );
    });
    it('a bpf-to-bpf call preserves r6-r9 and gives the callee its own stack frame', () => {
      const r = run(
        [
          mov(R6, 6),
          st('u64', R10, -8, 100),
          mov(R1, 5),
          callLocal('f'),
          ldx('u64', R2, R10, -8),
          add(R0, R2),
          add(R0, R6),
          exit(),
          label('f'),
          mov(R6, 0),
          st('u64', R10, -8, 1000),
          ldx('u64', R0, R10, -8),
          add(R0, R1),
          exit(),
        ],
        { engine },
      );
      assert.equal(r.r0, 1000n + 5n + 100n + 6n);
    });
    it('the callee frame is 512 bytes below the caller', () => {
      // the callee stores through r10 - 8; the caller reads it at r10 - 520
      const r = run(
        [mov(R0, 0), callLocal('f'), ldx('u64', R0, R10, -520), exit(), label('f'), st('u64', R10, -8, 77), mov(R0, 0), exit()],
        { engine },
      );
      assert.equal(r.r0, 77n);
    });
    it('recursion deeper than 8 frames is stopped', () => {
      const p = [mov(R0, 0), label('f'), callLocal('f'), exit()];
      assert.throws(
        () => run(p, { engine }),
        (e: unknown) => e instanceof RuntimeError && /insn 1: the call stack of 9 frames is too deep/.test(e.message),
      );
    });
    it('the instruction budget stops an endless loop, naming the pc', () => {
      assert.throws(() => run([mov(R0, 0), label('l'), ja('l')], { engine, budget: 1000 }), /instruction budget of 1000 exhausted/);
    });
    it('tail calls replace the program, keep r1, and stop after 33 in a chain', () => {
      const machine = createMachine({ helpers: new HelperRegistry(), tailCall: () => target });
      // the target counts how often it runs in a word at r1 and tail-calls itself again
      const self = link([
        ldx('u64', R2, R1, 0),
        alu64('add', R2, 1),
        stx('u64', R1, 0, R2),
        mov(R6, R1),
        mov(R2, 0),
        mov(R3, 0),
        call(12),
        mov(R0, 7),
        exit(),
      ]);
      const target: Prepared = engine.prepare(checkProgram(self), machine);
      const ctx = machine.memory.map(8, 3, 'ctx');
      const r0 = target.run({ r1: ctx.start });
      assert.equal(r0, 7n);
      assert.equal(machine.memory.view.getBigUint64(ctx.start, true), 34n, 'the first run plus 33 tail calls');
    });
    it('a failed tail call falls through to the next instruction', () => {
      const machine = createMachine({ tailCall: () => undefined });
      const p = link([mov(R2, 0), mov(R3, 0), call(12), mov(R0, 3), exit()]);
      assert.equal(engine.prepare(checkProgram(p), machine).run(), 3n);
    });
  });
}

describe('tracing', () => {
  it('prints each executed instruction with the registers it changed', () => {
    const lines: string[] = [];
    const machine = createMachine();
    const p = link([mov(R0, 1), add(R0, 2), exit()]);
    interpreter.prepare(checkProgram(p), machine, { trace: (l) => lines.push(l) }).run();
    assert.deepEqual(
      lines.map((l) => l.replace(/\s+;/, ' ;')),
      ['0: r0 = 1 ; r0=0x1', '1: r0 += 2 ; r0=0x3', '2: exit'],
    );
  });
});
