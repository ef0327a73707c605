import { workerData } from 'node:worker_threads';
import { R0, R1, R2, R3, alu64, atomic, exit, ja, jmp, label, link, mov } from '../../vm/dsl.js';
import { interpreter } from '../../vm/interpreter/interpreter.js';
import { createMachine } from '../../vm/machine.js';
import { AddressSpace, type AddressSpaceSnapshot, type Region } from '../../vm/memory.js';
import { checkProgram } from '../../vm/program.js';

// for (r3 = rounds; r3 != 0; r3--) lock *(u64 *)(r1 + 0) += 1
const {
  space: snapshot,
  stack,
  counter,
  rounds,
} = workerData as {
  space: AddressSpaceSnapshot;
  stack: Region;
  counter: number;
  rounds: number;
};
const space = new AddressSpace(snapshot);
const program = link([
  mov(R3, rounds),
  mov(R2, 1),
  label('top'),
  jmp('jeq', R3, 0, 'out'),
  atomic('add', 'u64', R1, 0, R2),
  alu64('sub', R3, 1),
  ja('top'),
  label('out'),
  mov(R0, 0),
  exit(),
]);
interpreter.prepare(checkProgram(program), createMachine({ memory: space, stack })).run({ r1: counter });
