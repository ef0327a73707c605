import assert from 'node:assert/strict';
import { ProgType } from '../../uapi/progType.js';
import { Kernel } from '../../kernel/kernel.js';
import { encode } from '../../vm/decode.js';
import { insn } from '../../vm/instruction.js';
import { kernelProbeForSuite } from '../support/kernelProbe.js';

/**
 * Differential: which context fields each program type may read and write. Every (offset,
 * size, read or write) of xdp_md and __sk_buff, as a small program, goes to the running
 * kernel's verifier (test/differential/c/ctx_probe.c) and to bpfbox's BPF_PROG_LOAD: both must load it
 * or both refuse it, with the same errno and message.
 */
const LDX: Readonly<Record<number, number>> = { 1: 0x71, 2: 0x69, 4: 0x61, 8: 0x79 };
const STX: Readonly<Record<number, number>> = { 1: 0x73, 2: 0x6b, 4: 0x63, 8: 0x7b };
const TYPES: readonly [string, number, number][] = [
  ['xdp', ProgType.BPF_PROG_TYPE_XDP, 24],
  ['socket filter', ProgType.BPF_PROG_TYPE_SOCKET_FILTER, 192],
  ['tc', ProgType.BPF_PROG_TYPE_SCHED_CLS, 192],
];

interface Probe {
  what: string;
  type: number;
  bytes: Uint8Array;
}

function probes(): Probe[] {
  const out: Probe[] = [];
  const exit0 = [insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)];
  for (const [name, type, size] of TYPES) {
    for (const width of [1, 2, 4, 8]) {
      for (let off = -4; off < size + 8; off++) {
        if (width > 1 && off % width !== 0 && off % 2 !== 0) continue; // a sample of the misaligned ones
        out.push({ what: `${name} read ${width} at ${off}`, type, bytes: encode([insn(LDX[width], 2, 1, off, 0), ...exit0]) });
        out.push({
          what: `${name} write ${width} at ${off}`,
          type,
          bytes: encode([insn(0xb7, 2, 0, 0, 0), insn(STX[width], 1, 2, off, 0), ...exit0]),
        });
      }
    }
    // an atomic add and an immediate store into the context
    out.push({ what: `${name} atomic add at 48`, type, bytes: encode([insn(0xb7, 2, 0, 0, 1), insn(0xc3, 1, 2, 48, 0), ...exit0]) });
    out.push({ what: `${name} immediate store at 48`, type, bytes: encode([insn(0x62, 1, 0, 48, 7), ...exit0]) });
    out.push({ what: `${name} immediate store at 8`, type, bytes: encode([insn(0x62, 1, 0, 8, 7), ...exit0]) });
    // through a copy of the context pointer, moved by a constant
    out.push({
      what: `${name} read via r6 = r1 + 8`,
      type,
      bytes: encode([insn(0xbf, 6, 1, 0, 0), insn(0x07, 6, 0, 0, 8), insn(0x61, 2, 6, 68, 0), ...exit0]),
    });
    out.push({
      what: `${name} write via r6 = r1 + 48`,
      type,
      bytes: encode([insn(0xbf, 6, 1, 0, 0), insn(0x07, 6, 0, 0, 48), insn(0xb7, 2, 0, 0, 0), insn(0x63, 6, 2, 0, 0), ...exit0]),
    });
  }
  return out;
}

describe('differential: context field access per program type agrees with the kernel', function () {
  this.timeout(120_000);
  const probe = kernelProbeForSuite('context access differential');

  it('every offset, size and direction of xdp_md and __sk_buff', () => {
    const ps = probes();
    const kernel = probe().ask(ps.map((p) => [p.type, p.bytes] as const));
    const k = new Kernel();
    const mismatches: string[] = [];
    let refused = 0;
    ps.forEach((p, i) => {
      const log = new Uint8Array(4096);
      const fd = k.bpf('BPF_PROG_LOAD', {
        prog_type: p.type,
        insns: p.bytes,
        license: 'GPL',
        log_level: 1,
        log_buf: log,
        log_size: log.length,
      });
      const lastLine =
        new TextDecoder()
          .decode(log.subarray(0, log.indexOf(0)))
          .trim()
          .split('\n')
          .filter((l) => !l.startsWith('processed'))
          .at(-1) ?? '';
      const ours = fd >= 0 ? 'ok' : `err ${-fd} ${lastLine.replace(/^insn \d+: /, '')}`;
      if (fd >= 0) k.close(fd);
      else refused++;
      if (ours !== kernel[i]) mismatches.push(`${p.what}: kernel "${kernel[i]}", bpfbox "${ours}"`);
    });
    assert.deepEqual(mismatches, []);
    assert.ok(refused > ps.length / 2, 'most probes are refused (the tables are narrow)');
  });
});
