import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { basename, join } from 'node:path';

/**
 * Building the kernel's BPF selftests as the selftests' Makefile does (clang-16, -O2 -g
 * --target=bpf -mcpu=v3, -D__TARGET_ARCH_x86, the selftests' own dir and tools/include/uapi on
 * the include path) into a cache outside the repo, with the headers the Makefile generates:
 * vmlinux.h from the running kernel's BTF, libbpf's headers from the source tree and
 * bpf_helper_defs.h from include/uapi/linux/bpf.h by scripts/bpf_doc.py.
 */

/** The programs issue 18 names: the verifier tests and the XDP/tc/socket programs. */
const PATTERNS = [
  /^verifier_.*\.c$/,
  /^test_xdp.*\.c$/,
  /^xdp_.*\.c$/,
  /^test_tc_.*\.c$/,
  /^test_l4lb.*\.c$/,
  /^test_pkt_.*\.c$/,
  /^test_skb_.*\.c$/,
  /^xdp_synproxy_kern\.c$/,
  /^test_cls_redirect.*\.c$/,
  /^test_tcp_check_syncookie_kern\.c$/,
];

/** Per-file extra flags, as the Makefile gives them. */
const EXTRA: Record<string, string[]> = {
  'test_l4lb_noinline.c': ['-fno-inline'],
  'test_xdp_noinline.c': ['-fno-inline'],
};

export const CLANG = 'clang-16';

/** sourcesOf lists the selftest programs to build, sorted, those matching `filter` if given. */
export function sourcesOf(progsDir: string, filter?: RegExp): string[] {
  return readdirSync(progsDir)
    .filter((f) => PATTERNS.some((p) => p.test(f)) && (!filter || filter.test(f)))
    .sort();
}

/** prepareIncludes makes (once per kernel release) the include dir the programs need. */
export function prepareIncludes(cache: string, ksrc: string): string {
  const inc = join(cache, `include-${release()}`);
  if (existsSync(join(inc, 'vmlinux.h')) && existsSync(join(inc, 'bpf', 'bpf_helper_defs.h'))) return inc;
  mkdirSync(join(inc, 'bpf'), { recursive: true });
  const lib = join(ksrc, 'tools', 'lib', 'bpf');
  for (const f of readdirSync(lib).filter((f) => f.endsWith('.h'))) copyFileSync(join(lib, f), join(inc, 'bpf', f));
  const defs = spawnSync('python3', [join(ksrc, 'scripts', 'bpf_doc.py'), '--header', '--file', join(ksrc, 'include/uapi/linux/bpf.h')], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (defs.status !== 0) throw new Error(`bpf_doc.py failed: ${defs.stderr.split('\n')[0]}`);
  writeFileSync(join(inc, 'bpf', 'bpf_helper_defs.h'), defs.stdout);
  const vmlinux = spawnSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (vmlinux.status !== 0) throw new Error(`bpftool btf dump of /sys/kernel/btf/vmlinux failed: ${vmlinux.stderr.split('\n')[0]}`);
  writeFileSync(join(inc, 'vmlinux.h'), vmlinux.stdout);
  return inc;
}

/** CompileResult: the object, or the first error clang gave. */
export interface CompileResult {
  readonly file: string;
  readonly obj?: string;
  readonly error?: string;
}

/** compile builds one program into cache/obj (kept while newer than its source and the includes). */
export function compile(cache: string, inc: string, ksrc: string, file: string): Promise<CompileResult> {
  const dir = join(ksrc, 'tools', 'testing', 'selftests', 'bpf');
  const src = join(dir, 'progs', file);
  const objDir = join(cache, `obj-${release()}`);
  mkdirSync(objDir, { recursive: true });
  const obj = join(objDir, basename(file, '.c') + '.o');
  if (existsSync(obj) && statSync(obj).mtimeMs > statSync(src).mtimeMs) return Promise.resolve({ file, obj });
  const args = [
    '-g',
    '-Wall',
    '-D__TARGET_ARCH_x86',
    `-I${inc}`,
    `-I${dir}`,
    `-I${join(ksrc, 'tools', 'include', 'uapi')}`,
    '-Wno-compare-distinct-pointer-types',
    '-idirafter',
    '/usr/include',
    '-idirafter',
    '/usr/include/x86_64-linux-gnu',
    ...(EXTRA[file] ?? []),
    '-O2',
    '--target=bpf',
    '-mcpu=v3',
    '-c',
    src,
    '-o',
    obj,
  ];
  return new Promise((resolve) => {
    const c = spawn(CLANG, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => {
      if (code === 0) resolve({ file, obj });
      else resolve({ file, error: err.split('\n').find((l) => l.includes('error')) ?? err.split('\n')[0] ?? `clang exited ${code}` });
    });
  });
}
