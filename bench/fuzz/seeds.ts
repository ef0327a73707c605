import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../test/support/paths.js';
import { runCli, type Limits } from './runCase.js';

/** repo names a file of the checkout (objects, configs, the sample capture). */
export const repo = (...p: string[]) => join(REPO_ROOT, ...p);

/** Seeds: the well-formed inputs every target mutates, made once per run under `dir`. */
export interface Seeds {
  readonly dir: string;
  /** small.pcap: the first records of pcaps/sample.pcap (microsecond magic) */
  readonly pcap: string;
  /** small-ns.pcap: the same records under the nanosecond magic (a1b23c4d) */
  readonly pcapNs: string;
  /** small.pcapng: what `replay small.pcap --out small.pcapng` writes (verdicts, if_tsresol) */
  readonly pcapng: string;
  /** state: a bpffs state directory with a program, its maps and a hash map pinned (copied per case) */
  readonly state: string;
}

/** SEED_RECORDS: how many packets the capture seeds keep: small enough that a case runs fast. */
const SEED_RECORDS = 12;

/**
 * firstRecords cuts a classic pcap (24-byte file header, 16-byte record headers whose
 * incl_len is at offset 8) after n records; the reader in pcaps/ is not used, so a bug
 * there cannot shape the seeds.
 */
function firstRecords(pcap: Uint8Array, n: number): Uint8Array {
  const dv = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  let at = 24;
  for (let i = 0; i < n && at + 16 <= pcap.length; i++) at += 16 + dv.getUint32(at + 8, true);
  return pcap.slice(0, Math.min(at, pcap.length));
}

/** makeSeeds writes the seeds into dir, running the CLI for the ones only it can make. */
export async function makeSeeds(dir: string, limits: Limits): Promise<Seeds> {
  mkdirSync(dir, { recursive: true });
  const small = firstRecords(readFileSync(repo('pcaps', 'sample.pcap')), SEED_RECORDS);
  const pcap = join(dir, 'small.pcap');
  writeFileSync(pcap, small);
  const ns = small.slice();
  new DataView(ns.buffer).setUint32(0, 0xa1b23c4d, true);
  const pcapNs = join(dir, 'small-ns.pcap');
  writeFileSync(pcapNs, ns);
  const pcapng = join(dir, 'small.pcapng');
  const state = join(dir, 'state');
  mkdirSync(state, { recursive: true });
  const steps: string[][] = [
    ['replay', pcap, '--obj', repo('bpf', 'xdp_stats.o'), '--workers', '1', '--out', pcapng],
    ['prog', 'load', repo('bpf', 'xdp_stats.o'), '/sys/fs/bpf/p', 'pinmaps', '/sys/fs/bpf/m'],
    ['map', 'create', '/sys/fs/bpf/h', 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'h'],
    ['map', 'create', '/sys/fs/bpf/q', 'type', 'queue', 'key', '0', 'value', '4', 'entries', '4', 'name', 'q'],
  ];
  for (const args of steps) {
    const r = await runCli(args, dir, state, limits);
    if (r.code !== 0) throw new Error(`fuzz seeds: bpfbox ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  }
  return { dir, pcap, pcapNs, pcapng, state };
}

/** copyState gives a case its own copy of the seed state (a case may change or break it). */
export function copyState(seeds: Seeds, to: string): void {
  cpSync(seeds.state, to, { recursive: true });
}
