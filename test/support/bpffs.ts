import { spawnSync } from 'node:child_process';
import { statfsSync } from 'node:fs';

/** BPF_FS_MAGIC: statfs(2)'s f_type of a bpf filesystem (include/uapi/linux/magic.h). */
const BPF_FS_MAGIC = 0xcafe4a11;

const isBpffs = (path: string): boolean => {
  try {
    return statfsSync(path).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
};

/**
 * kernelBpffs makes sure the kernel's bpf filesystem is mounted at /sys/fs/bpf, as bpftool's
 * pins need, mounting it as root when it is not (a fresh VM may boot without it). It returns ''
 * when pins can go there, else why not, for a suite to skip saying so. (On a plain sysfs
 * directory mkdir fails with ENOENT, which Node's recursive mkdirSync retries forever.)
 */
export function kernelBpffs(): string {
  if (isBpffs('/sys/fs/bpf')) return '';
  if (process.getuid?.() !== 0) return '/sys/fs/bpf is not a bpf filesystem, and mounting one needs root';
  const m = spawnSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf'], { encoding: 'utf8' });
  if (isBpffs('/sys/fs/bpf')) return '';
  return `/sys/fs/bpf is not a bpf filesystem and mounting one failed: ${m.error?.message ?? m.stderr.trim()}`;
}
