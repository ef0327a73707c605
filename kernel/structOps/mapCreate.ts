import { typeDesc } from '../../elf/btf.js';
import { Errno, fail } from '../../uapi/errno.js';
import { MapFlag } from '../../uapi/mapType.js';
import type { MapCreateAttr } from '../attr.js';
import type { Kernel } from '../kernel.js';
import type { MapBtf } from '../../maps/typeDesc.js';
import type { RegisteredStructOps } from './registry.js';

/**
 * structOpsMapCreate: the struct_ops checks of BPF_MAP_CREATE (bpf_struct_ops_map_alloc_check,
 * bpf_struct_ops_map_alloc): key_size 4, max_entries 1, flags only BPF_F_LINK and
 * BPF_F_VTYPE_BTF_OBJ_FD, a value type id (EINVAL otherwise); a module's BTF (bpfbox has none:
 * EINVAL); an id that is no subsystem's value type ENOTSUPP; value_size its size (EINVAL).
 * Returns the subsystem and the types bpftool shows the map with.
 */
export function structOpsMapCreate(k: Kernel, a: MapCreateAttr): { ops: RegisteredStructOps; btf: MapBtf } {
  const flags = a.map_flags ?? 0;
  if (
    a.key_size !== 4 ||
    a.max_entries !== 1 ||
    flags & ~(MapFlag.BPF_F_LINK | MapFlag.BPF_F_VTYPE_BTF_OBJ_FD) ||
    !a.btf_vmlinux_value_type_id
  )
    fail(Errno.EINVAL, 'a struct_ops map has key_size 4, max_entries 1, a value type, flags only BPF_F_LINK');
  if (flags & MapFlag.BPF_F_VTYPE_BTF_OBJ_FD) fail(Errno.EINVAL, 'bpfbox has no module BTF');
  const ops =
    k.structOps.byValueTypeId(a.btf_vmlinux_value_type_id) ??
    fail(Errno.ENOTSUPP, `type ${a.btf_vmlinux_value_type_id} is not a struct_ops value type`);
  if (a.value_size !== ops.valueType.size) fail(Errno.EINVAL, `value_size must be ${ops.valueType.size} (struct ${ops.valueType.name})`);
  return { ops, btf: { key: { k: 'int', size: 4, signed: false }, value: typeDesc(ops.btf, ops.valueTypeId) } };
}
