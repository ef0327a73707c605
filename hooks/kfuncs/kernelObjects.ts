import type { Helper } from '../../vm/helpers.js';
import { kfuncByName } from '../../vm/verifier/kfuncs.js';

const kfunc = (name: string, fn: Helper['fn']): Helper => ({ id: kfuncByName(name)!.id, name, fn });

/**
 * kernelObjectKfuncs: kfuncs about the kernel's own objects, which bpfbox's world does not have.
 * The verifier checks them as the kernel does (acquire/release references, NULL checks); at run
 * time there is no task with any pid and no keyring, so bpf_task_from_pid and the key lookups
 * give NULL (as the kernel's do for a pid or key serial that does not exist), and the releases
 * have nothing to put. bpf_cast_to_kern_ctx and bpf_rdonly_cast give their argument back (the
 * kernel inlines them to `r0 = r1`); note that bpfbox's context is laid out as the UAPI struct
 * (xdp_md, __sk_buff), so a program that reads the kernel struct through the cast reads other
 * bytes than the kernel's.
 */
export function kernelObjectKfuncs(): Helper[] {
  const nothing = () => 0n;
  const same = (r1: bigint) => r1;
  return [
    kfunc('bpf_cast_to_kern_ctx', same),
    kfunc('bpf_rdonly_cast', same),
    kfunc('bpf_task_from_pid', nothing),
    kfunc('bpf_task_release', nothing),
    kfunc('bpf_lookup_user_key', nothing),
    kfunc('bpf_lookup_system_key', nothing),
    kfunc('bpf_key_put', nothing),
  ];
}
