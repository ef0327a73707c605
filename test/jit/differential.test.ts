import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hexMaps } from '../support/hexMaps.js';
import { mapsJson } from '../../appliance/datapath/mapsJson.js';
import { readCollection } from '../../elf/collection.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { ProgType } from '../../uapi/progType.js';
import { testRun } from '../../hooks/testRun.js';
import type { ProgObject } from '../../kernel/objects.js';
import { Kernel } from '../../kernel/kernel.js';
import { synthPackets } from '../../pcaps/synth.js';
import { encode } from '../../vm/decode.js';
import type { Engine } from '../../vm/engine.js';
import { interpreter } from '../../vm/interpreter/interpreter.js';
import { jit } from '../../vm/jit/jit.js';
import { PACKETS } from '../support/packets.js';
import { REPO_ROOT } from '../support/paths.js';
import { generate } from '../support/progGen.js';
import { genKernel, testRuns } from '../support/soundness.js';

/**
 * The JIT against the interpreter (the truth): the same programs over the same packets in two
 * kernels that differ only in the engine must give the same return values, the same packets
 * out and the same maps after.
 */
const TESTED: readonly number[] = [ProgType.BPF_PROG_TYPE_XDP, ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_SCHED_CLS];

describe('JIT differential: the same answers as the interpreter', function () {
  this.timeout(120_000);
  const packets = [
    ...Array.from(synthPackets({ packets: 120, seed: 5 }), (p) => p.data.slice()),
    ...Object.entries(PACKETS)
      .filter(([k]) => !k.startsWith('runt'))
      .map(([, v]) => v),
  ];

  it('every corpus program over synthetic traffic and the fidelity set: return values, packets, maps', () => {
    let compared = 0;
    for (const f of readdirSync(join(REPO_ROOT, 'bpf'))
      .filter((x) => x.endsWith('.o'))
      .sort()) {
      const spec = readCollection(readFileSync(join(REPO_ROOT, 'bpf', f)), { name: f });
      const side = (engine: Engine) => {
        const k = new Kernel({ ncpus: 1, runtime: { engine, seed: 3, clock: () => 1_000_000n } });
        const loaded = loadCollection(k.process, spec);
        const out: Record<string, string[]> = {};
        for (const [name, fd] of loaded.programs) {
          const p = k.process.fds.get(fd)!.obj as { type: number };
          if (TESTED.includes(p.type)) out[name] = testRuns(k, fd, packets);
        }
        return { out, maps: hexMaps(mapsJson(k, loaded.maps)) };
      };
      const a = side(interpreter);
      const b = side(jit);
      assert.deepEqual(b.out, a.out, `${f}: results`);
      assert.deepEqual(b.maps, a.maps, `${f}: maps`);
      compared += Object.keys(a.out).length;
    }
    assert.ok(compared >= 20, `${compared} programs compared`);
  });

  it('test runs with repeat (the JIT loops in WebAssembly): the same as the interpreter, maps counting every run', () => {
    // on CPU 1 of 2: bpf_get_smp_processor_id is a constant the JIT writes into the code
    for (const [f, prog] of [
      ['xdp_simple', 'xdp_simple'],
      ['tail_calls', 'xdp_dispatch'],
      ['lpm_firewall', 'xdp_firewall'],
      ['calls', 'xdp_calls'],
      ['map_in_map', 'xdp_map_in_map'],
    ]) {
      const spec = readCollection(readFileSync(join(REPO_ROOT, 'bpf', `${f}.o`)), { name: f });
      const side = (engine: Engine) => {
        const k = new Kernel({ ncpus: 2, runtime: { engine } });
        const loaded = loadCollection(k.process, spec);
        const p = k.process.fds.get(loaded.programs.get(prog)!)!.obj as ProgObject;
        // CPU 1's runtime (the kernel takes BPF_F_TEST_RUN_ON_CPU for tracing programs only)
        const runs = packets.slice(0, 40).map((data) => {
          const r = testRun(k.runtime(1), p, { data, repeat: 257 });
          return `${r.retval} ${Buffer.from(r.data).toString('hex')}`;
        });
        return { runs, maps: hexMaps(mapsJson(k, loaded.maps)) };
      };
      const a = side(interpreter);
      assert.deepEqual(side(jit), a, f);
      if (f === 'xdp_simple') {
        // rxcnt[cpu] counts every run: 40 packets x 257 repeats, under the key of the CPU that ran them
        const nonzero = Object.entries(a.maps.rxcnt as Record<string, string>).filter(
          ([, v]) => Buffer.from(v, 'hex').readBigUInt64LE() !== 0n,
        );
        assert.deepEqual(
          nonzero.map(([key, v]) => [key, Buffer.from(v, 'hex').readBigUInt64LE()]),
          [['01000000', BigInt(40 * 257)]],
        );
      }
    }
  });

  it('1,000 random programs (test/support/progGen.ts): return values, packets, maps', () => {
    const a = genKernel(interpreter);
    const b = genKernel(jit);
    const data = [14, 60, 200].map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + n) & 0xff));
    let ran = 0;
    for (let seed = 0; seed < 1000; seed++) {
      const g = generate(seed, a.maps);
      const load = (k: Kernel) => k.bpf('BPF_PROG_LOAD', { prog_type: g.type, insns: encode(g.insns), license: 'GPL' });
      const fa = load(a.kernel);
      const fb = load(b.kernel);
      assert.equal(fa < 0, fb < 0);
      if (fa < 0) continue;
      ran++;
      assert.deepEqual(testRuns(b.kernel, fb, data), testRuns(a.kernel, fa, data), `seed ${seed}:\n${g.text}`);
      a.kernel.process.close(fa);
      b.kernel.process.close(fb);
    }
    assert.deepEqual(
      hexMaps(
        mapsJson(
          b.kernel,
          new Map([
            ['array', b.maps.array],
            ['hash', b.maps.hash],
          ]),
        ),
      ),
      hexMaps(
        mapsJson(
          a.kernel,
          new Map([
            ['array', a.maps.array],
            ['hash', a.maps.hash],
          ]),
        ),
      ),
    );
    assert.ok(ran > 150, `${ran} accepted programs ran`);
  });
});
