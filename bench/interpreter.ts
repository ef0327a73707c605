import { link, R0, R1, R2, R3, R6, alu64, callLocal, exit, ja, jmp, label, ldx, mov, type Item } from '../vm/dsl.js';
import type { Engine } from '../vm/engine.js';
import { createMachine } from '../vm/machine.js';
import { AddressSpace, Perm } from '../vm/memory.js';
import { checkProgram } from '../vm/program.js';
import { bestOf } from './timing.js';

/** Workload is one benchmark: a program, and the same work in plain JavaScript. */
export interface Workload {
  readonly name: string;
  readonly program: Item[];
  /** Plain-JavaScript baseline; returns the same value as the program's r0. */
  readonly baseline: (mem: DataView, memAddr: number) => bigint;
  readonly mem?: number;
}

const N = 200_000;

/** ALU-heavy: a 64-bit xorshift, N rounds; 8 instructions a round. */
const alu: Workload = {
  name: 'alu (64-bit xorshift)',
  program: [
    mov(R0, 88172645),
    mov(R1, N),
    label('top'),
    jmp('jeq', R1, 0, 'out'),
    mov(R2, R0),
    alu64('lsh', R2, 13),
    alu64('xor', R0, R2),
    mov(R2, R0),
    alu64('rsh', R2, 7),
    alu64('xor', R0, R2),
    alu64('sub', R1, 1),
    ja('top'),
    label('out'),
    exit(),
  ],
  baseline: () => {
    let x = 88172645n;
    for (let i = 0; i < N; i++) {
      x = BigInt.asUintN(64, x ^ (x << 13n));
      x ^= x >> 7n;
    }
    return x;
  },
};

/** Memory-heavy: sum 64-bit words of a 4 KiB buffer, N/8 passes of 8 loads; 4 instructions a load. */
const memory: Workload = {
  name: 'memory (sum u64 words)',
  mem: 4096,
  program: [
    mov(R0, 0),
    mov(R3, N),
    label('top'),
    jmp('jeq', R3, 0, 'out'),
    mov(R2, R3),
    alu64('and', R2, 511),
    alu64('lsh', R2, 3),
    alu64('add', R2, R1),
    ldx('u64', R2, R2, 0),
    alu64('add', R0, R2),
    alu64('sub', R3, 1),
    ja('top'),
    label('out'),
    exit(),
  ],
  baseline: (mem, addr) => {
    let sum = 0n;
    for (let i = N; i !== 0; i--) sum = BigInt.asUintN(64, sum + mem.getBigUint64(addr + (i & 511) * 8, true));
    return sum;
  },
};

/** Call-heavy: N bpf-to-bpf calls of a function that doubles its argument and adds one. */
const calls: Workload = {
  name: 'calls (bpf-to-bpf)',
  program: [
    mov(R0, 0),
    mov(R6, N),
    label('top'),
    jmp('jeq', R6, 0, 'out'),
    mov(R1, R6),
    callLocal('f'),
    alu64('sub', R6, 1),
    ja('top'),
    label('out'),
    exit(),
    label('f'),
    mov(R0, R1),
    alu64('add', R0, R1),
    alu64('add', R0, 1),
    exit(),
  ],
  baseline: () => {
    const f = (x: bigint) => x + x + 1n;
    let r0 = 0n;
    for (let i = N; i !== 0; i--) r0 = f(BigInt(i));
    return r0;
  },
};

/** workloads lists the interpreter benchmarks. */
export const workloads: readonly Workload[] = [alu, memory, calls];

/** BenchResult: instructions per second for the engine, and the time ratio to the baseline. */
export interface BenchResult {
  readonly name: string;
  readonly instructions: number;
  readonly engineSeconds: number;
  readonly baselineSeconds: number;
}

/** measure runs one workload on an engine and its baseline, checking that both agree. */
export function measure(w: Workload, engine: Engine, rounds = 7): BenchResult {
  const space = new AddressSpace({ initialBytes: 1 << 20 });
  const machine = createMachine({ memory: space });
  const region = space.map(w.mem ?? 8, Perm.RW, 'bench');
  for (let i = 0; i < (w.mem ?? 8); i++) space.u8[region.start + i] = (i * 131 + 7) & 0xff;
  const prepared = engine.prepare(checkProgram(link(w.program)), machine);
  const r0 = prepared.run({ r1: region.start });
  const expect = w.baseline(space.view, region.start);
  if (r0 !== expect) throw new Error(`${w.name}: engine returned 0x${r0.toString(16)}, baseline 0x${expect.toString(16)}`);
  const engineSeconds = bestOf(rounds, () => prepared.run({ r1: region.start }));
  const baselineSeconds = bestOf(rounds, () => w.baseline(space.view, region.start));
  return { name: w.name, instructions: prepared.executed, engineSeconds, baselineSeconds };
}
