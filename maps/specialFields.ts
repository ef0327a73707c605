import type { TypeDesc } from './typeDesc.js';

/**
 * SpecialField: the kernel structs BTF may place in a map value that programs reach only through
 * helpers (btf_record's fields: BPF_SPIN_LOCK, BPF_TIMER), with their sizes.
 */
export const SPECIAL_FIELDS = { bpf_spin_lock: 4, bpf_timer: 16 } as const;
export type SpecialField = keyof typeof SPECIAL_FIELDS;

/**
 * specialField: the byte offset of the member of type `struct <name>` in a map value's BTF type
 * (btf_parse_fields, as bpfbox reads it: a member of the value struct itself), or undefined
 * when there is none.
 */
export function specialField(value: TypeDesc | undefined, name: SpecialField): number | undefined {
  if (value?.k !== 'struct') return undefined;
  const m = value.members.find((x) => x.type.k === 'struct' && x.type.name === name);
  return m ? m.bitOffset / 8 : undefined;
}
