import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCollection } from '../elf/collection.js';
import { loadCollection } from '../kernel/loadCollection.js';
import { Kernel } from '../kernel/kernel.js';
import type { ProgObject } from '../kernel/objects.js';
import { resolveMapRefs } from '../maps/programSide.js';
import { compileProgram } from '../vm/jit/compile.js';
import type { Engine } from '../vm/engine.js';
import { interpreter } from '../vm/interpreter/interpreter.js';
import { jit } from '../vm/jit/jit.js';

/** TestRunBench: average ns per run in bpfbox, and the kernel's figure when it can be measured here. */
export interface TestRunBench {
  readonly program: string;
  readonly bpfboxNs: number;
  /** The same under the JIT, and the JIT's compile time for the program (ms). */
  readonly jitNs: number;
  readonly compileMs: number;
  readonly kernelNs?: number;
}

const PROGRAMS: readonly [string, string][] = [
  ['xdp_simple', 'xdp_simple'],
  ['sock_proto', 'count_proto'],
  ['global_data', 'load_static_data'],
  ['calls', 'xdp_calls'],
  ['tail_calls', 'xdp_dispatch'],
  ['lpm_firewall', 'xdp_firewall'],
  ['map_in_map', 'xdp_map_in_map'],
  ['core_ctx', 'xdp_core'],
];

/** udpPacket: the 54-byte UDP/IPv4 frame every program runs on. */
function udpPacket(): Uint8Array {
  const b = new Uint8Array(54);
  b.set([
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 0, 0x45, 0, 0, 40, 0, 1, 0, 0, 64, 17, 0, 0, 10, 1, 2, 3, 10, 0, 0, 1, 4, 0xd2,
    0, 53, 0, 20, 0, 0,
  ]);
  return b;
}

/**
 * testRunBenchmarks: `prog run … repeat N` for the corpus programs in bpfbox (interpreter),
 * and, when bpftool and root are available, the kernel's own average for the same program
 * and packet (`bpftool prog run … repeat N`), measured in the same run.
 */
export function testRunBenchmarks(repeat = 1_000_000): TestRunBench[] {
  const dir = fileURLToPath(new URL('../../bpf/', import.meta.url));
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-bench-'));
  const pkt = udpPacket();
  writeFileSync(join(tmp, 'pkt.bin'), pkt);
  const canKernel = process.getuid?.() === 0 && !spawnSync('bpftool', ['version']).error;
  const pinRoot = `/sys/fs/bpf/bpfbox_bench_${process.pid}`;
  if (canKernel) mkdirSync(pinRoot, { recursive: true });
  try {
    return PROGRAMS.map(([obj, prog]) => {
      const side = (engine: Engine) => {
        const k = new Kernel({ ncpus: 1, runtime: { engine } });
        const l = loadCollection(k.process, readCollection(readFileSync(join(dir, `${obj}.o`)), { name: `${obj}.o` }));
        const a = { prog_fd: l.programs.get(prog)!, data_in: pkt, repeat, duration: 0 };
        k.bpf('BPF_PROG_TEST_RUN', { ...a, repeat: 10_000 }); // warm up
        k.bpf('BPF_PROG_TEST_RUN', a);
        return { k, fd: a.prog_fd, ns: a.duration };
      };
      const a = { duration: side(interpreter).ns };
      const j = side(jit);
      const p = j.k.process.fds.get(j.fd)!.obj as ProgObject;
      const compileMs = compileTime(p);
      let kernelNs: number | undefined;
      if (canKernel) {
        const pins = `${pinRoot}/${obj}`;
        if (spawnSync('bpftool', ['prog', 'loadall', join(dir, `${obj}.o`), pins]).status === 0) {
          const r = spawnSync(
            'bpftool',
            ['-j', 'prog', 'run', 'pinned', `${pins}/${prog}`, 'data_in', join(tmp, 'pkt.bin'), 'repeat', String(repeat)],
            { encoding: 'utf8' },
          );
          if (r.status === 0) kernelNs = JSON.parse(r.stdout).duration;
        }
      }
      return { program: `${obj}/${prog}`, bpfboxNs: a.duration, jitNs: j.ns, compileMs, kernelNs };
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    if (canKernel) rmSync(pinRoot, { recursive: true, force: true });
  }
}

let unique = 0;

/**
 * compileTime: eBPF to a Wasm module and V8's compile of every function of it, as the replay
 * workers compile (eagerly, optimizing tier), best of 20, ms. V8 keeps compiled modules by their
 * bytes and hands the same module back for the same bytes, so each compile gets a custom section
 * of its own (a counter) to be compiled afresh.
 */
function compileTime(p: ProgObject): number {
  const resolveImm64 = resolveMapRefs(p);
  setFlagsFromString('--no-liftoff');
  setFlagsFromString('--no-wasm-lazy-compilation');
  let best = Infinity;
  try {
    for (let n = 0; n < 20; n++) {
      const t = process.hrtime.bigint();
      const bytes = compileProgram(p.program, { resolveImm64, maxPages: 65536, stackTop: 1 << 20 }).bytes;
      const u = ++unique;
      // custom section 0: size 6, a 1-byte name "u", a 4-byte counter
      const marked = new Uint8Array(bytes.length + 8);
      marked.set(bytes);
      marked.set([0, 6, 1, 0x75, u & 0xff, (u >> 8) & 0xff, (u >> 16) & 0xff, u >>> 24], bytes.length);
      new WebAssembly.Module(marked);
      best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
    }
  } finally {
    setFlagsFromString('--liftoff');
    setFlagsFromString('--wasm-lazy-compilation');
  }
  return best;
}
