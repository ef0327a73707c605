import type { Kernel } from '../kernel/kernel.js';
import { BpfMap } from './bpfMap.js';
import { check } from './bpfCallError.js';
import { Program } from './program.js';

/**
 * openPinned opens the map or program pinned at `path` in the kernel's pin namespace
 * (bpf_obj_get; cilium/ebpf's LoadPinnedMap / LoadPinnedProgram): a new fd in the kernel's
 * own process, which the returned object owns (close() drops it).
 */
export function openPinned(kernel: Kernel, path: string): BpfMap | Program {
  const p = kernel.process;
  const fd = check(p.bpf('BPF_OBJ_GET', { pathname: path }), `open pinned ${path}`);
  return p.entry(fd).obj.kind === 'map' ? new BpfMap(p, fd) : new Program(p, fd);
}

/** unpin removes the pin at `path` (the object lives on while something holds it). */
export function unpin(kernel: Kernel, path: string): void {
  check(kernel.unlink(path), `unpin ${path}`);
}
