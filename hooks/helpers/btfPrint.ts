import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno as neg, argU32 as u32 } from '../../vm/helpers.js';
import { PAGE_SIZE } from '../../vm/memory.js';
import type { HookRuntime } from '../runtime.js';
import { BTF_F_ALL, btfShow } from './btfShow.js';

/** sizeof(struct btf_ptr): `void *ptr; __u32 type_id; __u32 flags;`. */
const BTF_PTR_SIZE = 16;

/**
 * PERCPU_UNIT: how far apart a per-CPU variable's copies are. A percpu pointer (what a percpu
 * `__ksym` variable or percpu kptr holds) is the address of CPU 0's copy; CPU n's is n units
 * on, as the kernel's per-CPU units (pcpu_unit_offsets) are laid out. Whatever provides percpu
 * storage to programs lays it out this way.
 */
export const PERCPU_UNIT = PAGE_SIZE;

/**
 * hashPointer stands in for `%p`'s siphash of a pointer under a boot-time key (ptr_to_id):
 * a fixed mix (splitmix64), so runs repeat; the kernel's values differ boot to boot anyway.
 */
function hashPointer(p: bigint): bigint {
  let z = BigInt.asUintN(64, p + 0x9e3779b97f4a7c15n);
  z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
  z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
  return z ^ (z >> 31n);
}

/**
 * btfPrintHelpers: bpf_snprintf_btf (149) and the percpu pointer helpers.
 *
 * bpf_snprintf_btf(str, str_size, ptr, btf_ptr_size, flags) shows `ptr->ptr` as BTF type
 * `ptr->type_id` (btfShow) into `str`, cut to str_size - 1 bytes and NUL-terminated, and
 * returns the length the whole text needs (no NUL), as bpf_btf_printf_prepare and
 * btf_type_snprintf_show do: flags beyond BTF_F_* or btf_ptr_size != 16 are -EINVAL, type id 0
 * -EINVAL, an id no type has (or >= 2^31) -ENOENT. The kernel takes ids in vmlinux BTF; bpfbox
 * resolves CO-RE (bpf_core_type_id_kernel) against the object's own BTF, so the ids a program
 * sees name the object's types, and those are shown. A program loaded without BTF gets
 * -EINVAL (the kernel without vmlinux BTF).
 *
 * bpf_per_cpu_ptr (153) gives CPU `cpu`'s copy of a percpu variable (NULL for cpu >= nr_cpu_ids),
 * bpf_this_cpu_ptr (154) this CPU's (PERCPU_UNIT gives the layout).
 */
export function btfPrintHelpers(rt: HookRuntime): Helper[] {
  const ncpus = rt.options.ncpus ?? 1;
  return [
    {
      id: 149,
      name: 'bpf_snprintf_btf',
      fn: (str, strSize, ptr, ptrSize, flags, env) => {
        if (flags & ~BigInt(BTF_F_ALL) || u32(ptrSize) !== BTF_PTR_SIZE) return neg(Errno.EINVAL);
        const btf = rt.running?.btf;
        if (!btf) return neg(Errno.EINVAL);
        const view = env.memory.view;
        const typeId = view.getInt32(Number(ptr) + 8, true);
        if (typeId === 0) return neg(Errno.EINVAL);
        if (typeId < 0 || !btf.types[typeId]) return neg(Errno.ENOENT);
        const obj = view.getBigUint64(Number(ptr), true);
        const u8 = env.memory.u8;
        if (obj >= BigInt(u8.length)) return neg(Errno.EFAULT);
        const text = btfShow(btf, typeId, u8, Number(obj), { flags: Number(flags), hashPointer });
        // the kernel writes bytes: characters above 0x7f are the raw bytes '%c' printed
        const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
        const room = u32(strSize);
        if (room > 0) {
          const n = Math.min(bytes.length, room - 1);
          u8.set(bytes.subarray(0, n), Number(str));
          u8[Number(str) + n] = 0;
        }
        return BigInt(bytes.length);
      },
    },
    {
      id: 153,
      name: 'bpf_per_cpu_ptr',
      fn: (ptr, cpu) => (u32(cpu) >= ncpus ? 0n : ptr + BigInt(u32(cpu) * PERCPU_UNIT)),
    },
    { id: 154, name: 'bpf_this_cpu_ptr', fn: (ptr) => ptr + BigInt(rt.cpu * PERCPU_UNIT) },
  ];
}
