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

/**
 * zeroSpecialFields: what userspace sees of a value: its bpf_spin_lock and bpf_timer bytes as
 * zeros (bpf_map_copy_value: copy_map_value skips them, check_and_init_map_value zeroes them),
 * whatever state the emulator keeps there.
 */
export function zeroSpecialFields(value: TypeDesc | undefined, bytes: Uint8Array): Uint8Array {
  for (const name of Object.keys(SPECIAL_FIELDS) as SpecialField[]) {
    const at = specialField(value, name);
    if (at !== undefined) bytes.fill(0, at, at + SPECIAL_FIELDS[name]);
  }
  return bytes;
}
