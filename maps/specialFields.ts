import { MapType } from '../uapi/mapType.js';
import { type KptrDesc, type TypeDesc, sizeOfDesc } from './typeDesc.js';

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
 * zeroSpecialFields: what userspace sees of a value: its bpf_spin_lock, bpf_timer and kptr bytes as
 * zeros (bpf_map_copy_value: copy_map_value skips them, check_and_init_map_value zeroes them),
 * whatever state the emulator keeps there. An update from userspace goes through it too: the
 * kernel copies around those fields and then frees them (bpf_obj_free_fields), so a kptr is NULL after it.
 */
export function zeroSpecialFields(value: TypeDesc | undefined, bytes: Uint8Array): Uint8Array {
  for (const name of Object.keys(SPECIAL_FIELDS) as SpecialField[]) {
    const at = specialField(value, name);
    if (at !== undefined) bytes.fill(0, at, at + SPECIAL_FIELDS[name]);
  }
  for (const f of kptrFields(value)) bytes.fill(0, f.off, f.off + 8);
  return bytes;
}

/** KptrField: a kptr in a map value (btf_record's BPF_KPTR_UNREF / _REF / _PERCPU fields): its offset, tag and pointee struct. */
export interface KptrField extends KptrDesc {
  readonly off: number;
}

/**
 * kptrFields: every kptr field of a map value's BTF type, at its byte offset, as btf_parse_fields
 * finds them: members of the value struct, of structs nested in it and of arrays (btf_find_nested_struct,
 * btf_repeat_fields), depth bounded as the kernel bounds nesting.
 */
export function kptrFields(value: TypeDesc | undefined): KptrField[] {
  const out: KptrField[] = [];
  const walk = (t: TypeDesc, at: number, depth: number): void => {
    if (depth > 8 || out.length > 64) return;
    if (t.k === 'raw' && t.kptr) out.push({ off: at, ...t.kptr });
    else if (t.k === 'struct')
      for (const m of t.members) !m.bitSize && m.bitOffset % 8 === 0 && walk(m.type, at + m.bitOffset / 8, depth + 1);
    else if (t.k === 'array') for (let i = 0; i < t.n && out.length <= 64; i++) walk(t.elem, at + i * sizeOfDesc(t.elem), depth + 1);
  };
  if (value?.k === 'struct') walk(value, 0, 0);
  return out;
}

/**
 * KPTR_REF_STRUCTS: the kernel structs bpfbox lets a referenced kptr (`__kptr`) point to: those with
 * a destructor kfunc the kernel registers (btf_find_dtor_kfunc: bpf_task_release_dtor,
 * bpf_cgroup_release_dtor) whose layouts bpfbox keeps. Others bpfbox refuses at map creation.
 */
export const KPTR_REF_STRUCTS: readonly string[] = ['task_struct', 'cgroup'];

/**
 * KPTR_MAPS: the map types whose values may hold kptrs (map_check_btf: BPF_KPTR_* fields are
 * refused with EOPNOTSUPP elsewhere).
 */
export const KPTR_MAPS: readonly number[] = [
  MapType.BPF_MAP_TYPE_HASH,
  MapType.BPF_MAP_TYPE_PERCPU_HASH,
  MapType.BPF_MAP_TYPE_LRU_HASH,
  MapType.BPF_MAP_TYPE_LRU_PERCPU_HASH,
  MapType.BPF_MAP_TYPE_ARRAY,
  MapType.BPF_MAP_TYPE_PERCPU_ARRAY,
  MapType.BPF_MAP_TYPE_SK_STORAGE,
  MapType.BPF_MAP_TYPE_INODE_STORAGE,
  MapType.BPF_MAP_TYPE_TASK_STORAGE,
  MapType.BPF_MAP_TYPE_CGRP_STORAGE,
];
