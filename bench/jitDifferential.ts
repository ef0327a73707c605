import { mapsJson } from '../appliance/datapath/mapsJson.js';
import type { Kernel } from '../kernel/kernel.js';
import { encode } from '../vm/decode.js';
import { interpreter } from '../vm/interpreter/interpreter.js';
import { jit } from '../vm/jit/jit.js';
import { generate } from '../test/support/progGen.js';
import { genKernel, testRuns } from '../test/support/soundness.js';

// npm run bench:jit-diff [-- N]: N random programs (default 100,000) through both engines in two
// kernels that differ only in the engine: return values, packets out, and the maps at the end.
const n = Number(process.argv[2] ?? 100_000);
const a = genKernel(interpreter);
const b = genKernel(jit);
const data = [14, 60, 200].map((len) => Uint8Array.from({ length: len }, (_, i) => (i * 13 + len) & 0xff));
const t0 = process.hrtime.bigint();
let ran = 0;
const bad: string[] = [];
for (let seed = 0; seed < n; seed++) {
  const g = generate(seed, a.maps);
  const load = (k: Kernel) => k.bpf('BPF_PROG_LOAD', { prog_type: g.type, insns: encode(g.insns), license: 'GPL' });
  const fa = load(a.kernel);
  const fb = load(b.kernel);
  if (fa < 0 !== fb < 0) bad.push(`seed ${seed}: loaded by one kernel only`);
  if (fa < 0 || fb < 0) continue;
  ran++;
  const x = testRuns(a.kernel, fa, data).join('|');
  const y = testRuns(b.kernel, fb, data).join('|');
  if (x !== y) bad.push(`seed ${seed}: interpreter ${x.slice(0, 80)} jit ${y.slice(0, 80)}`);
  a.kernel.process.close(fa);
  b.kernel.process.close(fb);
}
// the entries in key order (a hash map's iteration order is its own business)
const maps = (s: typeof a) =>
  JSON.stringify(
    Object.entries(
      mapsJson(
        s.kernel,
        new Map([
          ['array', s.maps.array],
          ['hash', s.maps.hash],
        ]),
      ),
    ).map(([m, e]) => [m, Object.entries(e).sort()]),
  );
if (maps(a) !== maps(b)) bad.push('the maps differ at the end');
console.log(
  `JIT differential: ${n} random programs, ${ran} accepted and run over 3 packets in both engines, ${bad.length} differences, ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s`,
);
for (const l of bad.slice(0, 20)) console.log(`  ${l}`);
process.exitCode = bad.length ? 1 : 0;
