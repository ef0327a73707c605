import { soundnessBenchmark } from './verifier.js';

// npm run bench:soundness [-- N]: the verifier soundness check over N random programs (default 100,000).
const n = Number(process.argv[2] ?? 100_000);
const r = soundnessBenchmark(n);
console.log(
  `verifier soundness: ${r.programs} random programs, ${r.accepted} accepted and run over 3 packets each, ${r.violations.length} violations, ${r.seconds.toFixed(1)} s`,
);
for (const v of r.violations.slice(0, 20)) console.log(`  ${v}`);
process.exitCode = r.violations.length ? 1 : 0;
