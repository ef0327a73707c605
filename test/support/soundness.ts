import { ProgType } from '../../uapi/progType.js';
import { SkBuff } from '../../uapi/skBuff.js';
import { XdpMd } from '../../uapi/xdp.js';
import { Kernel } from '../../kernel/kernel.js';
import { MapType } from '../../uapi/mapType.js';
import { MapObject } from '../../kernel/objects.js';
import { encode } from '../../vm/decode.js';
import type { Engine, Machine } from '../../vm/engine.js';
import type { CheckedProgram } from '../../vm/program.js';
import { interpreter } from '../../vm/interpreter/interpreter.js';
import { Class, MAX_BPF_STACK, MAX_CALL_FRAMES, Mode, opClass } from '../../vm/opcodes.js';
import { type GenMaps, type Generated, generate } from './progGen.js';

const SIZES: Readonly<Record<number, number>> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };

/**
 * genKernel: a kernel (one CPU, fixed clock and seed) with the maps generated programs use:
 * an array (key 4, value 16, 4 entries) and a hash (key 8, value 8) holding the even keys below 20.
 */
export function genKernel(engine: Engine): { kernel: Kernel; maps: GenMaps } {
  const k = new Kernel({ ncpus: 1, runtime: { engine, seed: 1, clock: () => 1n } });
  const array = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 16, max_entries: 4 });
  const hash = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_HASH, key_size: 8, value_size: 8, max_entries: 16 });
  // half the keys the programs look up are there
  for (let key = 0; key < 20; key += 2) {
    const kb = new Uint8Array(8);
    kb[0] = key;
    k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: hash, key: kb, value: Uint8Array.from([key, 1, 2, 3, 4, 5, 6, 7]), flags: 0 });
  }
  return { kernel: k, maps: { array, hash } };
}

/**
 * testRuns runs each packet through BPF_PROG_TEST_RUN and says what came back, as text:
 * "RETVAL HEX-OF-DATA-OUT" or "errno N" (for comparing two kernels).
 */
export function testRuns(k: Kernel, fd: number, packets: readonly Uint8Array[]): string[] {
  return packets.map((data) => {
    const a = { prog_fd: fd, data_in: data, data_out: new Uint8Array(16384), retval: 0, data_size_out: 0 };
    const r = k.bpf('BPF_PROG_TEST_RUN', a);
    return r < 0 ? `errno ${-r}` : `${a.retval} ${Buffer.from(a.data_out.subarray(0, a.data_size_out)).toString('hex')}`;
  });
}

/** Violation: a run of an accepted program that went where the verifier said it could not. */
export interface Violation {
  readonly seed: number;
  readonly text: string;
  readonly what: string;
}

/**
 * SoundnessBench: a kernel whose CPU runs the interpreter under a watch: before each load or
 * store the address is checked against the objects the program may touch at that moment: its
 * stack frame, the context, the packet (data_meta to data_end, read from the context as the
 * run has it), and the map values lookups have returned. Independent of the verifier: it looks
 * only at concrete addresses.
 */
export class SoundnessBench {
  readonly kernel: Kernel;
  readonly maps: GenMaps;
  readonly #valueSize = new Map<number, number>();
  #allowed: [number, number][] = [];
  #ctx = 0;
  #xdp = false;
  #bad: string | undefined;
  #lookupAt = -1;
  #lookupMap = 0;

  constructor() {
    const watch: Engine = {
      name: 'interpreter',
      prepare: (program: CheckedProgram, machine: Machine) =>
        interpreter.prepare(program, machine, { budget: 5_000_000, observe: (pc, reg) => this.#observe(program, machine, pc, reg) }),
    };
    const { kernel: k, maps } = genKernel(watch);
    this.kernel = k;
    const { array, hash } = maps;
    this.maps = maps;
    for (const fd of [array, hash]) {
      const o = k.process.fds.get(fd)!.obj as MapObject;
      this.#valueSize.set(o.map.desc, o.spec.valueSize);
    }
  }

  #observe(program: CheckedProgram, machine: Machine, pc: number, reg: (r: number) => bigint): void {
    const i = program.slots.at[pc]!;
    const top = machine.stack.start + MAX_CALL_FRAMES * MAX_BPF_STACK;
    if (pc === 0) {
      this.#ctx = Number(reg(1));
      this.#allowed = [];
    }
    // the value a lookup returned (observed at the instruction after the call)
    if (this.#lookupAt >= 0 && pc === this.#lookupAt + 1) {
      const v = Number(reg(0));
      if (v) this.#allowed.push([v, v + (this.#valueSize.get(this.#lookupMap) ?? 0)]);
      this.#lookupAt = -1;
    }
    if (i.opcode === 0x85 && i.src === 0 && Number(i.imm) === 1) {
      this.#lookupAt = pc;
      this.#lookupMap = Number(reg(1));
    }
    const cls = opClass(i.opcode);
    const mode = i.opcode & 0xe0;
    if (
      !(cls === Class.BPF_LDX || cls === Class.BPF_ST || cls === Class.BPF_STX) ||
      (mode !== Mode.BPF_MEM && mode !== Mode.BPF_MEMSX && mode !== Mode.BPF_ATOMIC)
    )
      return;
    const size = SIZES[i.opcode & 0x18];
    const addr = Number(BigInt.asUintN(32, reg(cls === Class.BPF_LDX ? i.src : i.dst) + BigInt(i.offset)));
    const dv = machine.memory.view;
    const ranges: [number, number][] = [
      [top - MAX_BPF_STACK, top],
      [this.#ctx, this.#ctx + (this.#xdp ? XdpMd.SIZE : SkBuff.SIZE)],
      ...this.#allowed,
    ];
    if (this.#xdp) ranges.push([dv.getUint32(this.#ctx + XdpMd.data_meta, true), dv.getUint32(this.#ctx + XdpMd.data_end, true)]);
    if (!ranges.some(([lo, hi]) => addr >= lo && addr + size <= hi))
      this.#bad ??= `insn ${pc}: ${size} bytes at 0x${addr.toString(16)} are in none of the objects it may touch`;
  }

  /**
   * check generates program `seed`, loads it (the verifier decides) and, if accepted, runs it
   * over packets of several sizes; returns whether it was accepted and any violation.
   */
  check(seed: number): { accepted: boolean; violation?: Violation; program: Generated } {
    const g = generate(seed, this.maps);
    const k = this.kernel;
    const fd = k.bpf('BPF_PROG_LOAD', { prog_type: g.type, insns: encode(g.insns), license: 'GPL' });
    if (fd < 0) return { accepted: false, program: g };
    this.#xdp = g.type === ProgType.BPF_PROG_TYPE_XDP;
    try {
      for (const len of [14, 60, 200]) {
        const data = Uint8Array.from({ length: len }, (_, n) => (n * 7 + seed) & 0xff);
        this.#bad = undefined;
        try {
          const r = k.bpf('BPF_PROG_TEST_RUN', { prog_fd: fd, data_in: data, data_out: new Uint8Array(4096), retval: 0, data_size_out: 0 });
          if (r < 0) this.#bad ??= `test run failed with errno ${-r}`;
        } catch (e) {
          this.#bad ??= `faulted: ${(e as Error).message}`;
        }
        if (this.#bad) return { accepted: true, program: g, violation: { seed, text: g.text, what: `${len}-byte packet: ${this.#bad}` } };
      }
      return { accepted: true, program: g };
    } finally {
      k.process.close(fd);
    }
  }
}
