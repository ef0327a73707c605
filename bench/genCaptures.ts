import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSynthCapture } from '../pcaps/synth.js';

/**
 * genCaptures writes the deterministic captures: the bundled sample (pcaps/sample.pcap,
 * 1,000 mixed packets) and, for the benchmarks, 1M mixed packets (TCP, UDP, ICMP, ARP, IPv6;
 * 60 to 1514 bytes) and 1M 64-byte frames. `node dist/bench/genCaptures.js [DIR] [--big N]`.
 */
export function genCaptures(dir: string, packets = 1_000_000): { mixed: string; small: string } {
  mkdirSync(dir, { recursive: true });
  const mixed = join(dir, `mixed-${packets}.pcap`);
  const small = join(dir, `small64-${packets}.pcap`);
  writeSynthCapture(mixed, { packets, seed: 1 });
  writeSynthCapture(small, { packets, seed: 2, mix: 'small' });
  return { mixed, small };
}

export const SAMPLE = fileURLToPath(new URL('../../pcaps/sample.pcap', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const big = args.indexOf('--big');
  const n = big >= 0 ? Number(args[big + 1]) : 1_000_000;
  writeSynthCapture(SAMPLE, { packets: 1000, seed: 1 });
  console.log(`wrote ${SAMPLE}`);
  const dir = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--big');
  if (dir) console.log(genCaptures(dir, n));
}
