import { type Helper, argU32, negErrno } from '../../vm/helpers.js';
import { type AddressSpace, Perm } from '../../vm/memory.js';
import { kfuncByName } from '../../vm/verifier/kfuncs.js';

/** BITS_ITER_NR_WORDS_MAX: the most 8-byte words a bits iterator copies (kernel/bpf/helpers.c). */
export const BITS_ITER_NR_WORDS_MAX = 511;
const EINVAL = 22;
const E2BIG = 7;
const EFAULT = 14;

const kfunc = (name: string, fn: Helper['fn']): Helper => ({ id: kfuncByName(name)!.id, name, fn });

/**
 * The words each live iterator copied, by address space and the iterator's stack address: the
 * kernel keeps a pointer to a bpf_mem_alloc'd copy in the iterator; bpfbox keeps the copy here
 * (the verifier lets no program read an iterator's bytes, so where it lives is not observable).
 */
const copies = new WeakMap<AddressSpace, Map<number, Uint8Array>>();
const copiesOf = (m: AddressSpace): Map<number, Uint8Array> => {
  let c = copies.get(m);
  if (!c) copies.set(m, (c = new Map()));
  return c;
};

/**
 * iterBitsKfuncs: the open-coded bits iterator (kernel/bpf/helpers.c's bpf_iter_bits_*): new
 * copies `nr_words` u64 words from any readable address (as bpf_probe_read_kernel), next gives
 * the index of each set bit, lowest first, as a pointer to an int. The iterator's 16 bytes are
 * the kernel's struct bpf_iter_bits_kern: the words' copy at 0, `int nr_bits` at 8, `int bit` at 12.
 */
export function iterBitsKfuncs(): Helper[] {
  return [
    kfunc('bpf_iter_bits_new', (it, ptr, nrWords, _r4, _r5, env) => {
      const dv = env.memory.view;
      const p = Number(it);
      const words = argU32(nrWords);
      dv.setBigUint64(p, 0n, true);
      dv.setInt32(p + 8, 0, true);
      dv.setInt32(p + 12, -1, true);
      copiesOf(env.memory).delete(p);
      if (ptr === 0n || words === 0) return negErrno(EINVAL);
      if (words > BITS_ITER_NR_WORDS_MAX) return negErrno(E2BIG);
      const from = Number(ptr);
      if (ptr > 0xffff_ffffn || !env.memory.find(from, words * 8, Perm.READ)) return negErrno(EFAULT);
      copiesOf(env.memory).set(p, env.memory.u8.slice(from, from + words * 8));
      dv.setInt32(p + 8, words * 64, true);
      return 0n;
    }),
    kfunc('bpf_iter_bits_next', (it, _r2, _r3, _r4, _r5, env) => {
      const dv = env.memory.view;
      const p = Number(it);
      const nrBits = dv.getInt32(p + 8, true);
      let bit = dv.getInt32(p + 12, true);
      const bits = copiesOf(env.memory).get(p);
      if (!nrBits || bit >= nrBits || !bits) return 0n;
      // find_next_bit: little-endian words, bit b of the area is bit b%8 of byte b/8
      for (bit++; bit < nrBits && !(bits[bit >> 3] & (1 << (bit & 7))); bit++);
      dv.setInt32(p + 12, bit, true);
      return bit >= nrBits ? 0n : BigInt(p + 12);
    }),
    kfunc('bpf_iter_bits_destroy', (it, _r2, _r3, _r4, _r5, env) => {
      copiesOf(env.memory).delete(Number(it));
      return 0n;
    }),
  ];
}
