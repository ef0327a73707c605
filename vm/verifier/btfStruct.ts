import { EACCES, EINVAL, refuse } from './refuse.js';
import { KERN_STRUCTS } from './kernStructs.data.js';
import { type Reg, ZERO, unknownScalar } from './state.js';

/*
 * Reads of kernel structs through PTR_TO_BTF_ID (check_ptr_to_btf_access, btf_struct_access and
 * btf_struct_walk in kernel/bpf/btf.c), against the layouts of kernStructs.data.ts, which
 * scripts/kernStructs.mjs generates from the running kernel's BTF. A read of a scalar member (or
 * inside one: an array of ints is one member) gives a scalar; a read of a whole pointer member
 * gives a pointer to the struct it names. The kernel makes those PTR_UNTRUSTED (or MEM_RCU / trusted
 * for a few fields its BTF_TYPE_SAFE_* lists name); bpfbox has no memory behind them, so it gives
 * the untrusted pointer bpf_rdonly_cast gives (nothing in it readable here: a program that walks
 * one is refused, as unmodelled, never run into memory that is not there).
 */

/** kernStructSize: the size of a kernel struct bpfbox knows the layout of, or undefined. */
export const kernStructSize = (name: string): number | undefined => KERN_STRUCTS[name]?.size;

/** UNTRUSTED: the pointer a pointer member gives (kfuncs.ts's bpf_rdonly_cast result, read-only, nothing readable). */
export const UNTRUSTED: Reg = { k: 'mem', size: 0, off: 0, ref: 0, var: ZERO, rdonly: true, btf: 'untrusted' };

/** btfPtr: a trusted pointer to a kernel struct of the table (RET_PTR_TO_BTF_ID_TRUSTED), read-only. */
export const btfPtr = (name: string): Reg => ({
  k: 'mem',
  size: KERN_STRUCTS[name]!.size,
  off: 0,
  ref: 0,
  var: ZERO,
  rdonly: true,
  btf: name,
});

/** The display name of a table key, as the kernel's messages name a struct. */
const tname = (key: string): string => (key.startsWith('#') ? '(anon)' : key.replace(/^union /, ''));

/**
 * btfStructRead: what a read of `size` bytes at `off` of struct `name` gives (btf_struct_access,
 * BPF_READ): a scalar, or UNTRUSTED for a pointer member; refuses as the kernel does
 * ("access beyond struct", "cannot access ptr member", "doesn't have field at offset").
 */
export function btfStructRead(name: string, r: number, off: number, size: number): Reg {
  if (off < 0) refuse(`R${r} is ptr_${name} invalid negative access: off=${off}`, EACCES);
  let key = name;
  // PTR_UNTRUSTED, once a union of more than one member is walked into: kept across the nested walks (tmp_flag)
  const flag = { untrusted: false };
  for (;;) {
    const walked = walk(key, off, size, flag);
    if (walked.k === 'scalar') return unknownScalar; // narrowed to the load's size by the caller
    if (walked.k === 'ptr') return UNTRUSTED;
    // a nested struct reached at its start: walk on inside it (WALK_STRUCT)
    ((key = walked.key), (off = walked.off));
  }
}

type Walked = { k: 'scalar' } | { k: 'ptr' } | { k: 'struct'; key: string; off: number };

/** walk: one btf_struct_walk over struct `key`, descending into the member that holds `off`. */
function walk(key: string, off: number, size: number, flag: { untrusted: boolean }): Walked {
  for (;;) {
    const t = KERN_STRUCTS[key]!;
    // walking unions yields untrusted pointers, and no member end check (unions of one member excepted)
    if (t.union && t.m.length !== 1) flag.untrusted = true;
    // a flexible array of structs last: bpfbox keeps no memory past the struct, so no relaxation
    if (off + size > t.size) refuse(`access beyond struct ${tname(key)} at off ${off} size ${size}`, EACCES);
    let next: { key: string; off: number } | undefined;
    for (const [mname, bitOff, bits, type] of t.m) {
      let moff = bitOff >> 3;
      if (off + size <= moff) break; // the field is already too far
      if (bits) {
        // a bitfield: read whole, from at or before its first byte to past its last (off <= moff: clang's unnamed bitfields)
        if (off <= moff && Math.ceil((bitOff + bits) / 8) <= off + size) return { k: 'scalar' };
        continue;
      }
      if (off < moff) break; // a hole of the struct
      let [msize, elem] = resolve(type);
      const mtrueEnd = moff + msize;
      if (off >= mtrueEnd) continue; // no overlap with this member
      if (type.startsWith('a')) {
        const n = Number(type.slice(1, type.indexOf(':')));
        msize = msize / n;
        moff += Math.floor((off - moff) / msize) * msize;
      } else elem = type;
      if (elem.startsWith('S:')) {
        if (off === moff) return { k: 'struct', key: elem.slice(2), off: 0 };
        next = { key: elem.slice(2), off: off - moff };
        break;
      }
      if (elem.startsWith('p')) {
        if (msize !== size || off !== moff)
          refuse(`cannot access ptr member ${mname} with moff ${moff} in struct ${tname(key)} with off ${off} size ${size}`, EACCES);
        return { k: 'ptr' };
      }
      // a scalar, or an array of them: any bytes inside it (mtrue_end: the array's end)
      if (off + size > mtrueEnd && !flag.untrusted)
        refuse(`access beyond the end of member ${mname} (mend:${mtrueEnd}) in struct ${tname(key)} with off ${off} size ${size}`, EACCES);
      return { k: 'scalar' };
    }
    if (!next) return refuse(`struct ${tname(key)} doesn't have field at offset ${off}`, EINVAL);
    ((key = next.key), (off = next.off));
  }
}

/** resolve: a member type's size in bytes and, for an array, its element type (__btf_resolve_size). */
function resolve(type: string): [number, string] {
  if (type.startsWith('s')) return [Number(type.slice(1)), type];
  if (type.startsWith('p')) return [8, type];
  if (type.startsWith('S:')) return [KERN_STRUCTS[type.slice(2)]!.size, type];
  const colon = type.indexOf(':');
  const n = Number(type.slice(1, colon));
  const elem = type.slice(colon + 1);
  return [n * resolve(elem)[0], elem];
}

/** memberOffset: the byte offset of a top-level member of a struct of the table (for the runtime's synthetic objects). */
export function memberOffset(struct: string, member: string): number {
  const m = KERN_STRUCTS[struct]?.m.find(([n]) => n === member);
  if (!m) throw new RangeError(`struct ${struct} has no member ${member} in kernStructs.data.ts`);
  return m[1] >> 3;
}
