import type { Helper } from '../../vm/helpers.js';

/**
 * kptrHelpers: bpf_kptr_xchg (194): the 8 bytes of a map value's kptr field swapped for the
 * pointer given, the old pointer returned (xchg(): one step, as the kernel's inlined atomic is;
 * a program runs alone in its runtime). The verifier (vm/verifier/kptr.ts) saw to it that the
 * destination is a referenced kptr field and the pointer a reference of its type or NULL. No
 * kernel object exists in bpfbox (bpf_task_from_pid and the other acquiring kfuncs give NULL), so
 * every kptr field holds NULL: the exchange then gives NULL back, and an element deleted or
 * updated from userspace has nothing to release (bpf_obj_free_fields).
 */
export function kptrHelpers(): Helper[] {
  return [
    {
      id: 194,
      name: 'bpf_kptr_xchg',
      fn: (dst, ptr, _r3, _r4, _r5, env) => {
        const at = Number(BigInt.asUintN(32, dst));
        const old = env.memory.view.getBigUint64(at, true);
        env.memory.view.setBigUint64(at, BigInt.asUintN(64, ptr), true);
        return old;
      },
    },
  ];
}
