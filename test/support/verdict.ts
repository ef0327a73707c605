import assert from 'node:assert/strict';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { encode } from '../../vm/decode.js';
import { verifyProgram } from '../../vm/verifier/verified.js';
import { kernelProbeForSuite } from './kernelProbe.js';
import { MapType } from '../../uapi/mapType.js';
import type { Instruction } from '../../vm/instruction.js';
import type { MapInfo } from '../../vm/verifier/state.js';
import { verify } from '../../vm/verifier/verify.js';

const inner: MapInfo = { type: MapType.BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 16, array: true, maxEntries: 4 };

/**
 * PROBE_MAPS: the maps test/differential/c/ctx_probe.c creates, by the number an lddw immediate names:
 * 0 array (key 4, value 16, 4 entries); 1 hash (key 8, value 8); 2 array of one entry; 3 the
 * same read-only for programs; 4 ring buffer of 4096 bytes; 5 prog array of 4; 6 array of
 * maps whose inner maps are like map 0.
 */
export const PROBE_MAPS: readonly MapInfo[] = [
  inner,
  { type: MapType.BPF_MAP_TYPE_HASH, keySize: 8, valueSize: 8, maxEntries: 16 },
  { type: MapType.BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 16, array: true, maxEntries: 1 },
  { type: MapType.BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 16, array: true, maxEntries: 1, readonlyProg: true },
  { type: MapType.BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 },
  { type: MapType.BPF_MAP_TYPE_PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 },
  { type: MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 4, ofMaps: true, inner },
];

/** lastLine: the log's last line but the summary and an infinite loop's two states (as ctx_probe reports the kernel's). */
export const lastLine = (log: readonly string[]): string => log.filter((l) => !/^(processed |cur state:|old state:)/.test(l)).at(-1) ?? '';

/**
 * verdict: bpfbox's answer in ctx_probe's form, "ok" or "err ERRNO <message>", or undefined
 * where the verifier says it does not model something.
 */
export function verdict(p: readonly Instruction[], progType: number, maps: readonly MapInfo[] = PROBE_MAPS): string | undefined {
  const v = verify(p, { progType, ops: verifierOpsOf(progType), maps });
  if (v.ok) return 'ok';
  if (v.unsupported) return undefined;
  return `err ${v.errno} ${lastLine(v.log)}`;
}

/** loadVerdict: bpfbox's answer in ctx_probe's form as BPF_PROG_LOAD gives it (the verifier, then the load checks). */
export function loadVerdict(p: readonly Instruction[], progType: number, maps: readonly MapInfo[] = PROBE_MAPS): string {
  const { result, program } = verifyProgram(p, { progType, ops: verifierOpsOf(progType), maps });
  return program ? 'ok' : `err ${result.ok ? 0 : result.errno} ${lastLine(result.log)}`;
}

/**
 * decidesAsTheKernel registers, inside a describe, one test: each program gets the same
 * loadVerdict from bpfbox as from the running kernel (ctx_probe.c; the suite skips, saying
 * why, where BPF is not allowed).
 */
export function decidesAsTheKernel(label: string, progType: number, programs: readonly (readonly Instruction[])[]): void {
  const probe = kernelProbeForSuite(label);
  it('the same decision and final line as the running kernel for each program', () => {
    const kernel = probe().ask(programs.map((p) => [progType, encode(p)] as const));
    assert.deepEqual(
      programs.map((p) => loadVerdict(p, progType)),
      kernel,
    );
  });
}
