import { Btf, type BtfType, type Member } from '../../elf/btf.js';
import { BASE_BTF, BPF_STRUCT_OPS_VALUE_PREFIX } from '../../uapi/baseBtf.js';
import { Kind } from '../../uapi/btf.js';

/** baseBtf: bpfbox's base BTF (uapi/baseBtf.ts) as the kernel reads it: what btf_vmlinux is to the kernel. */
export const baseBtf: Btf = new Btf(BASE_BTF, 'base BTF');

/** structByName returns the id of `struct name` in `btf`, or 0. */
export function structByName(btf: Btf, name: string): number {
  return btf.byName(Kind.STRUCT, name)?.id ?? 0;
}

/** valueTypeName: the value type of struct_ops `name` (`tcp_congestion_ops` → `bpf_struct_ops_tcp_congestion_ops`). */
export function valueTypeName(name: string): string {
  return BPF_STRUCT_OPS_VALUE_PREFIX + name;
}

/**
 * funcProtoOf: the FUNC_PROTO a member of type `type` points to (btf_type_resolve_func_ptr:
 * modifiers, a pointer, modifiers, a prototype), or undefined for any other member.
 */
export function funcProtoOf(btf: Btf, type: number): BtfType | undefined {
  const p = btf.skipModifiers(type);
  if (p.kind !== Kind.PTR) return undefined;
  const f = btf.skipModifiers(p.type);
  return f.kind === Kind.FUNC_PROTO ? f : undefined;
}

/** pointee: the struct (or forward declaration) a pointer type points to, modifiers skipped, or undefined. */
export function pointee(btf: Btf, type: number): BtfType | undefined {
  const p = btf.skipModifiers(type);
  return p.kind === Kind.PTR ? btf.skipModifiers(p.type) : undefined;
}

/** memberBytes: a member's byte offset and size in its struct. */
export function memberBytes(btf: Btf, m: Member): { off: number; size: number } {
  return { off: m.offset / 8, size: btf.sizeOf(m.type) };
}
