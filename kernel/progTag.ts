import { createHash } from 'node:crypto';
import { Pseudo, isLddw } from '../vm/opcodes.js';

/**
 * progTag computes a program's tag as this machine's kernel does (6.18): the first 8 bytes
 * of SHA-256 over the instructions as loaded, with the immediates of map-referencing `lddw`
 * (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE) zeroed in both halves, so the tag does not
 * depend on fd numbers. (Kernels before the switch used SHA-1 the same way.) Checked against
 * `bpftool prog show` in test/differential/c.
 */
export function progTag(bytecode: Uint8Array): string {
  const b = Uint8Array.from(bytecode);
  for (let i = 0; i + 16 <= b.length; i += 8) {
    const src = b[i + 1] >> 4;
    if (isLddw(b[i]) && (src === Pseudo.BPF_PSEUDO_MAP_FD || src === Pseudo.BPF_PSEUDO_MAP_VALUE)) {
      b.fill(0, i + 4, i + 8);
      b.fill(0, i + 12, i + 16);
      i += 8;
    }
  }
  return createHash('sha256').update(b).digest('hex').slice(0, 16);
}
