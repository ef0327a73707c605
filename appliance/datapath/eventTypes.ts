import { readFileSync } from 'node:fs';
import { Btf, typeDesc } from '../../elf/btf.js';
import { ElfFile } from '../../elf/elfFile.js';
import { type TypeDesc, sizeOfDesc } from '../../maps/typeDesc.js';
import { Kind } from '../../uapi/btf.js';
import type { ProgObject } from '../../kernel/objects.js';

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
  const b = btf;
  if (!b) return () => undefined;
  return typerOf(b.types.filter((t) => t.kind === Kind.STRUCT && t.name).map((t) => typeDesc(b, t.id)));
}

/**
 * mapsEventTyper is eventTyper for a program already loaded (`prog run`, no object file at
 * hand): the named structs are those its maps' BTF key and value types hold, nested ones
 * included (a struct used only by the events is found when a map keeps one, as `last` in
 * bpf/events.c does).
 */
export function mapsEventTyper(prog: ProgObject): EventTyper {
  const out: TypeDesc[] = [];
  const walk = (t: TypeDesc | undefined): void => {
    if (!t) return;
    if (t.k === 'array') return walk(t.elem);
    if (t.k !== 'struct') return;
    if (t.name && !out.some((o) => o.k === 'struct' && o.name === t.name)) out.push(t);
    for (const m of t.members) walk(m.type);
  };
  for (const m of [...prog.maps, ...prog.bound]) {
    walk(m.spec.btf?.key);
    walk(m.spec.btf?.value);
  }
  return typerOf(out);
}

/** typerOf picks among named structs by the rule eventTyper states. */
function typerOf(structs: readonly TypeDesc[]): EventTyper {
  const memo = new Map<string, TypeDesc | undefined>();
  return (name, size) => {
    const k = `${name}/${size}`;
    if (memo.has(k)) return memo.get(k);
    const fits = structs.filter((s) => sizeOfDesc(s) === size);
    const named = fits.find((s) => s.k === 'struct' && (s.name === name || s.name === name.replace(/s$/, '')));
    const t = named ?? (fits.length === 1 ? fits[0] : undefined);
    memo.set(k, t);
    return t;
  };
}
