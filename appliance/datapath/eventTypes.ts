import { readFileSync } from 'node:fs';
import { Btf, typeDesc } from '../../elf/btf.js';
import { ElfFile } from '../../elf/elfFile.js';
import { type TypeDesc, sizeOfDesc } from '../../maps/typeDesc.js';
import { Kind } from '../../uapi/btf.js';

/** EventTyper gives the C type an event of `size` bytes of map `name` holds, when the object's BTF says. */
export type EventTyper = (name: string, size: number) => TypeDesc | undefined;

/**
 * eventTyper reads the object's BTF for the types of its events. A ring buffer declares no
 * value type and a perf event array's value is a perf event fd, so the record's type is
 * found the way a reader of the C source would: the struct named like the map (`events`, or
 * `event` for `events`) when its size is the record's, else the only named struct of the
 * record's size; none (undefined) when neither is there or several structs fit.
 */
export function eventTyper(obj: string): EventTyper {
  let btf: Btf | undefined;
  try {
    const sec = new ElfFile(readFileSync(obj)).section('.BTF');
    btf = sec ? new Btf(sec.data) : undefined;
  } catch {
    btf = undefined;
  }
  if (!btf) return () => undefined;
  const b = btf;
  const structs = b.types.filter((t) => t.kind === Kind.STRUCT && t.name).map((t) => ({ name: t.name, desc: typeDesc(b, t.id) }));
  const memo = new Map<string, TypeDesc | undefined>();
  return (name, size) => {
    const k = `${name}/${size}`;
    if (memo.has(k)) return memo.get(k);
    const fits = structs.filter((s) => sizeOfDesc(s.desc) === size);
    const named = fits.find((s) => s.name === name || s.name === name.replace(/s$/, ''));
    const t = named?.desc ?? (fits.length === 1 ? fits[0].desc : undefined);
    memo.set(k, t);
    return t;
  };
}
