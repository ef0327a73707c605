import type { Btf, BtfType, Member } from '../../elf/btf.js';
import { Errno, fail } from '../../uapi/errno.js';
import { baseBtf, funcProtoOf, structByName, valueTypeName } from './baseBtf.js';
import type { StructOpsDesc } from './desc.js';

/**
 * RegisteredStructOps: a desc with what the kernel finds of it in the base BTF at boot
 * (bpf_struct_ops_desc_init): the struct, its value type, and each member's prototype
 * (undefined for a member that is not a function pointer).
 */
export interface RegisteredStructOps {
  readonly desc: StructOpsDesc;
  readonly btf: Btf;
  readonly typeId: number;
  readonly type: BtfType;
  readonly valueTypeId: number;
  readonly valueType: BtfType;
  /** The value type's `data` member's byte offset (64: the kernel's ____cacheline_aligned_in_smp). */
  readonly dataOff: number;
  readonly protos: readonly (BtfType | undefined)[];
}

/**
 * StructOpsRegistry: the subsystems a Kernel offers struct_ops for (the kernel's
 * bpf_struct_ops_desc list), found by struct id (a program's attach_btf_id) or value type id
 * (a map's btf_vmlinux_value_type_id).
 */
export class StructOpsRegistry {
  readonly #byType = new Map<number, RegisteredStructOps>();
  readonly #byValue = new Map<number, RegisteredStructOps>();
  readonly btf: Btf;

  constructor(btf: Btf = baseBtf) {
    this.btf = btf;
  }

  /** add makes a subsystem available: its struct and value type must be in the base BTF (EINVAL otherwise), its name unique (EEXIST). */
  add(desc: StructOpsDesc): RegisteredStructOps {
    const typeId = structByName(this.btf, desc.name);
    const valueTypeId = structByName(this.btf, valueTypeName(desc.name));
    if (!typeId || !valueTypeId)
      fail(Errno.EINVAL, `struct_ops ${desc.name}: no struct ${desc.name} or ${valueTypeName(desc.name)} in the base BTF`);
    if (this.#byType.has(typeId)) fail(Errno.EEXIST, `struct_ops ${desc.name} is already registered`);
    const type = this.btf.get(typeId);
    const valueType = this.btf.get(valueTypeId);
    const data = valueType.members.find((m: Member) => m.name === 'data');
    if (!data || this.btf.skipModifiers(data.type).id !== typeId)
      fail(Errno.EINVAL, `${valueType.name} has no data member of struct ${desc.name}`);
    const r: RegisteredStructOps = {
      desc,
      btf: this.btf,
      typeId,
      type,
      valueTypeId,
      valueType,
      dataOff: data.offset / 8,
      protos: type.members.map((m) => funcProtoOf(this.btf, m.type)),
    };
    this.#byType.set(typeId, r);
    this.#byValue.set(valueTypeId, r);
    return r;
  }

  /** byTypeId: bpf_struct_ops_find: the subsystem whose struct is type `id`. */
  byTypeId(id: number): RegisteredStructOps | undefined {
    return this.#byType.get(id);
  }

  /** byValueTypeId: bpf_struct_ops_find_value: the subsystem whose value type is type `id`. */
  byValueTypeId(id: number): RegisteredStructOps | undefined {
    return this.#byValue.get(id);
  }

  /** byName: the subsystem of struct `name`. */
  byName(name: string): RegisteredStructOps | undefined {
    return this.#byType.get(structByName(this.btf, name));
  }

  /** all lists the subsystems. */
  all(): RegisteredStructOps[] {
    return [...this.#byType.values()];
  }
}
