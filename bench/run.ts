import { cpus } from 'node:os';
import { interpreter } from '../vm/interpreter/interpreter.js';
import { measure, workloads } from './interpreter.js';
import { mapBenchmarks } from './maps.js';
import { elfBenchmarks } from './elf.js';
import { testRunBenchmarks } from './testRun.js';
import { replayBenchmarks } from './replay.js';
import { verifierBenchmarks } from './verifier.js';
import { coresBenchmarks } from './cores.js';
import { printLiveBenchmarks } from './live.js';
import { printWholeBenchmarks } from './whole.js';

// npm run bench: every hot path, with a baseline measured in the same run.
console.log(`bpfbox bench, ${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}`);
console.log('');
console.log('interpreter: eBPF instructions per second, against plain JavaScript doing the same work');
console.log(
  `${'workload'.padEnd(26)} ${'insns'.padStart(9)} ${'Minsn/s'.padStart(8)} ${'ms'.padStart(7)} ${'JS ms'.padStart(7)} ${'JS/interp'.padStart(10)}`,
);
for (const w of workloads) {
  const r = measure(w, interpreter);
  const mips = r.instructions / r.engineSeconds / 1e6;
  const ratio = r.baselineSeconds / r.engineSeconds;
  console.log(
    `${r.name.padEnd(26)} ${String(r.instructions).padStart(9)} ${mips.toFixed(1).padStart(8)} ${(r.engineSeconds * 1e3).toFixed(2).padStart(7)} ${(r.baselineSeconds * 1e3).toFixed(2).padStart(7)} ${ratio.toFixed(2).padStart(10)}`,
  );
}

console.log('');
console.log('maps, program side (the calls the map helpers make), against a JavaScript Map in the same run');
console.log(
  `${'workload'.padEnd(26)} ${'ops'.padStart(9)} ${'Mops/s'.padStart(8)} ${'JS Mops/s'.padStart(10)} ${'map/JS'.padStart(7)}  note`,
);
for (const r of mapBenchmarks()) {
  const rate = r.ops / r.mapSeconds / 1e6;
  const js = r.ops / r.baselineSeconds / 1e6;
  console.log(
    `${r.name.padEnd(26)} ${String(r.ops).padStart(9)} ${rate.toFixed(1).padStart(8)} ${js.toFixed(1).padStart(10)} ${(rate / js).toFixed(2).padStart(7)}  ${r.note ?? ''}`,
  );
}

console.log('');
console.log('ELF objects: median time to read (parse, link) and to read and load through the bpf() door (new Kernel each time)');
console.log(`${'object'.padEnd(20)} ${'bytes'.padStart(7)} ${'read ms'.padStart(8)} ${'load ms'.padStart(8)}`);
for (const r of elfBenchmarks()) {
  console.log(`${r.file.padEnd(20)} ${String(r.bytes).padStart(7)} ${r.readMs.toFixed(3).padStart(8)} ${r.loadMs.toFixed(3).padStart(8)}`);
}

console.log('');
console.log(
  'prog run … repeat 1000000 on a 54-byte UDP packet: average ns per run, bpfbox (interpreter, JIT) and the kernel (bpftool, same run); JIT compile ms',
);
console.log(
  `${'program'.padEnd(30)} ${'interp ns'.padStart(10)} ${'jit ns'.padStart(8)} ${'kernel ns'.padStart(10)} ${'jit/kern'.padStart(9)} ${'compile ms'.padStart(11)}`,
);
for (const r of testRunBenchmarks()) {
  const ratio = r.kernelNs ? (r.jitNs / r.kernelNs).toFixed(1) : '-';
  console.log(
    `${r.program.padEnd(30)} ${String(r.bpfboxNs).padStart(10)} ${String(r.jitNs).padStart(8)} ${(r.kernelNs === undefined ? 'n/a' : String(r.kernelNs)).padStart(10)} ${ratio.padStart(9)} ${r.compileMs.toFixed(2).padStart(11)}`,
  );
}

console.log('');
console.log(
  'verifier: time to verify each corpus program, bpfbox (best of 20) and the kernel\'s own "verification time" (log_level 4, libbpf, best of 5) in the same run',
);
console.log(
  `${'program'.padEnd(34)} ${'insns'.padStart(6)} ${'proc'.padStart(6)} ${'k.proc'.padStart(7)} ${'bpfbox us'.padStart(10)} ${'kernel us'.padStart(10)} ${'ratio'.padStart(6)}`,
);
const vb = verifierBenchmarks();
for (const r of vb.rows) {
  const ratio = r.kernelUs ? (r.us / r.kernelUs).toFixed(1) : '-';
  console.log(
    `${r.program.padEnd(34)} ${String(r.insns).padStart(6)} ${String(r.processed).padStart(6)} ${String(r.kernelProcessed ?? '-').padStart(7)} ${r.us.toFixed(0).padStart(10)} ${String(r.kernelUs ?? vb.kernelNote ?? '-').padStart(10)} ${ratio.padStart(6)}`,
  );
}

console.log('');
console.log('the machine: the same loop on one thread, then on two at once (the ceiling for 2 workers against 1)');
console.log(`${'loop'.padEnd(36)} ${'1 thread ms'.padStart(12)} ${'2 threads ms'.padStart(13)} ${'speedup'.padStart(8)}`);
for (const r of await coresBenchmarks())
  console.log(
    `${r.loop.padEnd(36)} ${r.oneMs.toFixed(0).padStart(12)} ${r.twoMs.toFixed(0).padStart(13)} ${r.speedup.toFixed(2).padStart(8)}`,
  );

console.log('');
console.log(
  'replay: the corpus firewall (lpm_firewall.o, xdp_firewall) over 1M-packet captures (bench/genCaptures.ts), next to tcpdump and the kernel in the same run',
);
console.log(`${'what'.padEnd(66)} ${'packets'.padStart(9)} ${'s'.padStart(7)} ${'Mpps'.padStart(6)}  note`);
for (const r of replayBenchmarks({ big: process.argv.includes('--big') }).rows) {
  console.log(
    `${r.what.padEnd(66)} ${String(r.packets).padStart(9)} ${r.seconds.toFixed(3).padStart(7)} ${r.mpps.toFixed(2).padStart(6)}  ${r.note ?? ''}`,
  );
}

console.log('');
await printLiveBenchmarks();

console.log('');
printWholeBenchmarks();
