import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CurrentTask } from '../hooks/currentTask.js';
import { defaultTask } from '../hooks/currentTask.js';

/**
 * cgroup2Mount: where the cgroup2 hierarchy is mounted, from /proc/self/mountinfo (field 5 the
 * mount point, the filesystem type after the " - " separator): /sys/fs/cgroup on a unified
 * host, /sys/fs/cgroup/unified on a hybrid one; undefined without cgroup2.
 */
export function cgroup2Mount(mountinfo: string): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.split(' ')[0] === 'cgroup2') return pre.split(' ')[4].replace(/\\040/g, ' ');
  }
  return undefined;
}

/**
 * hostTask reads the calling process's CurrentTask from the host: its cgroup v2 path (the
 * `0::` line of /proc/self/cgroup) and each directory's inode number from the cgroup2 mount
 * down to it (a cgroup's id is its kernfs node id, the inode number stat gives), and the pid
 * namespace `/proc/self/ns/pid` names (st_dev, st_ino; the pid and tgid as process.pid: bpfbox
 * runs programs on its main thread). What cannot be read (no cgroup2, no /proc) keeps
 * defaultTask's answer.
 */
export function hostTask(): CurrentTask {
  const task = defaultTask();
  let cgroupIds = task.cgroupIds;
  let pidns = task.pidns;
  try {
    const mount = cgroup2Mount(readFileSync('/proc/self/mountinfo', 'utf8'));
    const line = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    if (mount && line) {
      const parts = line.slice(3).split('/').filter(Boolean);
      cgroupIds = [0, ...parts.map((_, i) => i + 1)].map((n) => statSync(join(mount, ...parts.slice(0, n)), { bigint: true }).ino);
    }
  } catch {
    // a cgroup the process cannot see (another namespace's path): the root's answer
  }
  try {
    const st = statSync('/proc/self/ns/pid', { bigint: true });
    pidns = { ...pidns, dev: st.dev, ino: st.ino };
  } catch {
    // no /proc: the default namespace
  }
  return { cgroupIds, pidns };
}
