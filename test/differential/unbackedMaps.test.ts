import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { adjustRingbufSize } from '../../elf/mapDefs.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { Kernel } from '../../kernel/kernel.js';
import { Errno } from '../../uapi/errno.js';
import { mapTypeByName } from '../../uapi/mapType.js';
import { kernelBpffs } from '../support/bpffs.js';

/**
 * Differential: the map types whose elements are kernel objects bpfbox has none of (sockets,
 * cgroups, a user-space producer: maps/unbackedMap.ts), against the running kernel:
 * - creation: each attribute set through `bpftool map create` and through bpfbox's
 *   BPF_MAP_CREATE door: the same success or errno;
 * - verification: small objects built with clang, loaded by `bpftool prog loadall` (libbpf, as
 *   a user would) and by bpfbox's loader: the same decision, and a refusal's message is a line of
 *   the kernel's log. Each case also says the decision expected, so a test cannot pass by both
 *   sides failing to build.
 */
type Attrs = readonly [type: string, key: number, value: number, entries: number, flags?: number];

const CREATE: readonly Attrs[] = [
  ['user_ringbuf', 0, 0, 4096],
  ['user_ringbuf', 0, 0, 8192, 4], // BPF_F_NUMA_NODE
  ['user_ringbuf', 0, 0, 4097],
  ['user_ringbuf', 0, 0, 2048],
  ['user_ringbuf', 4, 0, 4096],
  ['user_ringbuf', 0, 0, 4096, 8], // BPF_F_RDONLY: not RINGBUF_CREATE_FLAG_MASK
  ['sockmap', 4, 4, 1],
  ['sockmap', 4, 8, 16],
  ['sockmap', 4, 4, 0],
  ['sockmap', 8, 4, 1],
  ['sockmap', 4, 2, 1],
  ['sockmap', 4, 4, 1, 8],
  ['sockmap', 4, 4, 1, 1], // BPF_F_NO_PREALLOC
  ['sockmap', 4, 4, 1, 128], // BPF_F_RDONLY_PROG
  ['sockhash', 4, 4, 1],
  ['sockhash', 512, 8, 1],
  ['sockhash', 513, 4, 1],
  ['sockhash', 0, 4, 1],
  ['sockhash', 4, 16, 1],
  ['reuseport_sockarray', 4, 8, 1],
  ['reuseport_sockarray', 4, 4, 1, 128],
  ['reuseport_sockarray', 4, 2, 1],
  ['reuseport_sockarray', 4, 4, 0],
  ['reuseport_sockarray', 8, 4, 1],
  ['reuseport_sockarray', 4, 4, 1, 1024], // BPF_F_MMAPABLE: arrays only
  ['cgroup_storage', 8, 4, 0],
  ['cgroup_storage', 16, 64, 0],
  ['cgroup_storage', 12, 4, 0],
  ['cgroup_storage', 8, 4, 1],
  ['cgroup_storage', 8, 0, 0],
  ['cgroup_storage', 8, 65407, 0],
  ['cgroup_storage', 8, 65408, 0],
  ['cgroup_storage', 8, 4, 0, 1],
  ['cgroup_storage', 8, 4, 0, 128],
  ['percpu_cgroup_storage', 8, 32768, 0],
  ['percpu_cgroup_storage', 8, 32769, 0],
  ['percpu_cgroup_storage', 16, 8, 1],
  // socket storage needs BTF for its key and value, which bpftool's map create cannot give: EINVAL
  ['sk_storage', 4, 4, 0, 1],
  ['sk_storage', 4, 4, 0],
];

/** The errno bpftool's "<op> failed: <strerror>" names. */
const STRERROR: Readonly<Record<string, number>> = {
  'Invalid argument': Errno.EINVAL,
  'Argument list too long': Errno.E2BIG,
  'Bad file descriptor': Errno.EBADF,
  'Operation not permitted': Errno.EPERM,
  'No such file or directory': Errno.ENOENT,
  'No space left on device': Errno.ENOSPC,
  'Unknown error 524': Errno.ENOTSUPP,
};

/** Userspace commands on an empty map, by bpftool and by bpfbox's door: [type, key, value, entries]. */
const EMPTY: readonly Attrs[] = [
  ['sockmap', 4, 4, 2],
  ['sockmap', 4, 8, 2],
  ['sockhash', 4, 4, 2],
  ['sockhash', 4, 8, 2],
  ['reuseport_sockarray', 4, 4, 2],
  ['reuseport_sockarray', 4, 8, 2],
];

const HEAD = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
int zero = 0;
struct bpf_cgroup_storage_key_ { __u64 cgroup_inode_id; __u32 attach_type; };
struct { __uint(type, BPF_MAP_TYPE_CGROUP_STORAGE); __type(key, struct bpf_cgroup_storage_key_); __type(value, __u64); } cgs SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_SOCKMAP); __uint(max_entries, 1); __type(key, int); __type(value, int); } sockmap SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_SOCKHASH); __uint(max_entries, 1); __type(key, int); __type(value, int); } sockhash SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_SK_STORAGE); __uint(map_flags, BPF_F_NO_PREALLOC); __type(key, int); __type(value, long); } sks SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_USER_RINGBUF); __uint(max_entries, 8); } urb SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 1); __uint(key_size, 4); __uint(value_size, 4); } jmp SEC(".maps");
`;

/** [name, C body (after HEAD), the decision expected of both]. */
const VERIFY: readonly (readonly [string, string, 'accept' | 'reject'])[] = [
  ['an object holding every such map, its program using none', 'SEC("xdp") int p(struct xdp_md *c) { return XDP_PASS; }', 'accept'],
  [
    'bpf_get_local_storage: a value, never NULL',
    'SEC("cgroup_skb/ingress") int p(struct __sk_buff *s) { __u64 *v = bpf_get_local_storage(&cgs, 0); return (*v & 1); }',
    'accept',
  ],
  [
    'bpf_get_local_storage with flags',
    'SEC("cgroup_skb/ingress") int p(struct __sk_buff *s) { __u64 *v = bpf_get_local_storage(&cgs, s->len); return (*v & 1); }',
    'reject',
  ],
  [
    'bpf_map_lookup_elem on a cgroup storage',
    'SEC("cgroup_skb/ingress") int p(struct __sk_buff *s) { struct bpf_cgroup_storage_key_ k = {}; return bpf_map_lookup_elem(&cgs, &k) != 0; }',
    'reject',
  ],
  [
    'a sockmap delete from a socket filter (may_update_sockmap)',
    'SEC("socket") int p(struct __sk_buff *s) { bpf_map_delete_elem(&sockmap, &zero); bpf_map_delete_elem(&sockhash, &zero); return 0; }',
    'accept',
  ],
  [
    'a sockmap delete from a raw tracepoint',
    'SEC("raw_tp/kfree") int p(void *c) { bpf_map_delete_elem(&sockmap, &zero); return 0; }',
    'reject',
  ],
  [
    'a sockmap update with a stack value',
    'SEC("xdp") int p(struct xdp_md *c) { int v = 0; bpf_map_update_elem(&sockmap, &zero, &v, 0); return XDP_PASS; }',
    'reject',
  ],
  [
    'bpf_map_lookup_elem on a socket storage',
    'SEC("xdp") int p(struct xdp_md *c) { return bpf_map_lookup_elem(&sks, &zero) ? XDP_DROP : XDP_PASS; }',
    'reject',
  ],
  [
    'bpf_ringbuf_output into a user ring buffer',
    'SEC("xdp") int p(struct xdp_md *c) { bpf_ringbuf_output(&urb, &zero, 4, 0); return XDP_PASS; }',
    'reject',
  ],
  [
    'a map pointer plus a known 0',
    'SEC("socket") __attribute__((naked)) int p(void) { asm volatile("r0 = 0; *(u64 *)(r10 - 8) = r0; r2 = r10; r2 += -8; r1 = %[m] ll; r1 += r0; call %[lookup]; r0 = 0; exit;" :: [m]"i"(&jmp), [lookup]"i"(BPF_FUNC_map_lookup_elem) : "memory"); }',
    'reject', // a prog array takes no lookup: refused after the + 0, by map type
  ],
  [
    'a map pointer plus a known 0, then a tail call',
    'SEC("socket") __attribute__((naked)) int p(void) { asm volatile("r6 = r1; r0 = 0; r1 = %[m] ll; r2 = r1; r2 += r0; r1 = r6; r3 = 0; call %[tc]; r0 = 0; exit;" :: [m]"i"(&jmp), [tc]"i"(BPF_FUNC_tail_call) : "memory"); }',
    'accept',
  ],
  [
    'a map pointer plus a known 1',
    'SEC("socket") __attribute__((naked)) int p(void) { asm volatile("r6 = r1; r0 = 1; r1 = %[m] ll; r2 = r1; r2 += r0; r1 = r6; r3 = 0; call %[tc]; r0 = 0; exit;" :: [m]"i"(&jmp), [tc]"i"(BPF_FUNC_tail_call) : "memory"); }',
    'reject',
  ],
  // callbacks called any number of times (verifier_iterating_callbacks.c): bpf_loop's count bounds them
  [
    'an index a bpf_loop callback raises 8 times, into 2 bytes',
    'struct cbctx { __u64 i; }; char choice[2] = {}; static long cb(__u64 n, void *d) { ((struct cbctx *)d)->i++; return 0; }\nSEC("socket") int p(struct __sk_buff *s) { struct cbctx c = { 0 }; bpf_loop(8, cb, &c, 0); return choice[c.i]; }',
    'reject',
  ],
  [
    'an index a bpf_loop callback raises once, into 2 bytes',
    'struct cbctx { __u64 i; }; char choice[2] = {}; static long cb(__u64 n, void *d) { ((struct cbctx *)d)->i++; return 0; }\nSEC("socket") int p(struct __sk_buff *s) { struct cbctx c = { 0 }; bpf_loop(1, cb, &c, 0); return choice[c.i]; }',
    'accept',
  ],
  // check_ptr_to_map_access: a map pointer read as its kernel struct (verifier_map_ptr.c)
  [
    'a map pointer read at a negative offset',
    'SEC("socket") __attribute__((naked)) int p(void) { asm volatile("r1 = %[m] ll; r6 = *(u64 *)(r1 - 8); r0 = 1; exit;" :: [m]"i"(&sockmap) : "memory"); }',
    'reject',
  ],
  [
    'a store through a map pointer',
    'SEC("socket") __attribute__((naked)) int p(void) { asm volatile("r2 = 0; r1 = %[m] ll; *(u64 *)(r1 + 0) = r2; r0 = 1; exit;" :: [m]"i"(&cgs) : "memory"); }',
    'reject',
  ],
  [
    'a packet pointer used after a tail call from a subprogram',
    'static __attribute__((noinline)) int tcall(struct __sk_buff *s) { bpf_tail_call_static(s, &jmp, 0); return 0; }\nSEC("tc") int p(struct __sk_buff *s) { int *q = (void *)(long)s->data; if ((void *)(q + 1) > (void *)(long)s->data_end) return 0; tcall(s); *q = 42; return 0; }',
    'reject',
  ],
  [
    'a packet pointer used after a tail call in the main program that failed',
    `SEC("tc") __attribute__((naked)) int p(void) { asm volatile("r6 = r1; r7 = *(u32 *)(r1 + %[data]); r8 = *(u32 *)(r1 + %[end]); r0 = r7; r0 += 4; if r0 > r8 goto 1f; r1 = r6; r2 = %[m] ll; r3 = 0; call %[tc]; r0 = *(u32 *)(r7 + 0); exit; 1: r0 = 0; exit;" :: [m]"i"(&jmp), [tc]"i"(BPF_FUNC_tail_call), [data]"i"(__builtin_offsetof(struct __sk_buff, data)), [end]"i"(__builtin_offsetof(struct __sk_buff, data_end)) : "memory"); }`,
    'accept',
  ],
  // bpf_sk_storage_get's value is ARG_PTR_TO_MAP_VALUE_OR_NULL: NULL, or memory of the value's size; 1 is neither
  [
    'bpf_sk_storage_get with a value of 1 (neither NULL nor memory)',
    'SEC("tc") int p(struct __sk_buff *s) { struct bpf_sock *sk = s->sk; if (!sk) return 0; sk = bpf_sk_fullsock(sk); if (!sk) return 0; bpf_sk_storage_get(&sks, sk, (void *)1, 1); return 0; }',
    'reject',
  ],
  [
    'bpf_sk_storage_get with a NULL value and with a value on the stack',
    'SEC("tc") int p(struct __sk_buff *s) { long v = 0; struct bpf_sock *sk = s->sk; if (!sk) return 0; sk = bpf_sk_fullsock(sk); if (!sk) return 0; bpf_sk_storage_get(&sks, sk, 0, 1); bpf_sk_storage_get(&sks, sk, &v, 1); return 0; }',
    'accept',
  ],
];

describe('differential: socket, cgroup storage and user ring buffer maps on the kernel and bpfbox', function () {
  this.timeout(300_000);
  const DIR = `/sys/fs/bpf/bpfbox_unbacked_${process.pid}`;
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-unbacked-'));
  let why = '';
  before(function () {
    const bt = spawnSync('bpftool', ['version'], { encoding: 'utf8' });
    if (bt.error || bt.status !== 0) why = 'bpftool is not installed (apt-get install bpftool)';
    else if (process.getuid?.() !== 0) why = 'not root';
    else if (spawnSync('clang', ['--version']).status !== 0) why = 'no clang';
    else if (spawnSync('sh', ['-c', 'test -f /usr/include/bpf/bpf_helpers.h']).status !== 0) why = 'no libbpf-dev (bpf/bpf_helpers.h)';
    else if ((why = kernelBpffs())) {
      /* said why */
    } else {
      mkdirSync(DIR, { recursive: true });
      const probe = spawnSync('bpftool', [
        'map',
        'create',
        `${DIR}/probe`,
        'type',
        'array',
        'key',
        '4',
        'value',
        '4',
        'entries',
        '1',
        'name',
        'p',
      ]);
      if (probe.status !== 0) why = `the kernel refuses BPF here: ${String(probe.stderr).trim()}`;
    }
    if (why) {
      console.log(`  unbacked maps differential: SKIPPED: ${why}`);
      this.skip();
    }
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  for (const [type, key, value, entries, flags = 0] of CREATE) {
    it(`map create ${type} key ${key} value ${value} entries ${entries} flags ${flags}`, () => {
      const pin = `${DIR}/m`;
      rmSync(pin, { force: true });
      const args = ['map', 'create', pin, 'type', type, 'key', `${key}`, 'value', `${value}`, 'entries', `${entries}`, 'name', 'm'];
      const k = spawnSync('bpftool', flags ? [...args, 'flags', `${flags}`] : args, { encoding: 'utf8' });
      rmSync(pin, { force: true });
      const strerror = /map create failed: (.*)$/m.exec(k.stderr)?.[1];
      const kernel = k.status === 0 ? 0 : (STRERROR[strerror ?? ''] ?? `unexpected: ${k.stderr.trim()}`);
      const t = mapTypeByName(type);
      assert.ok(t !== undefined, type);
      const fd = new Kernel({ ncpus: 1 }).process.bpf('BPF_MAP_CREATE', {
        map_type: t,
        key_size: key,
        value_size: value,
        max_entries: entries,
        map_flags: flags,
        map_name: 'm',
      });
      assert.equal(fd < 0 ? -fd : 0, kernel, `kernel: ${k.status === 0 ? 'created' : k.stderr.trim()}`);
    });
  }

  for (const [type, key, value, entries] of EMPTY) {
    it(`an empty ${type} (value ${value}): lookup, delete in and out of range, get-next`, () => {
      const pin = `${DIR}/e`;
      rmSync(pin, { force: true });
      const c = spawnSync('bpftool', [
        'map',
        'create',
        pin,
        'type',
        type,
        'key',
        `${key}`,
        'value',
        `${value}`,
        'entries',
        `${entries}`,
        'name',
        'e',
      ]);
      assert.equal(c.status, 0, String(c.stderr));
      const k = new Kernel({ ncpus: 1 }).process;
      const fd = k.bpf('BPF_MAP_CREATE', {
        map_type: mapTypeByName(type)!,
        key_size: key,
        value_size: value,
        max_entries: entries,
        map_name: 'e',
      });
      assert.ok(fd > 0);
      // bpftool says ENOENT on a lookup as "Not found" on stdout, other errnos as "<op> failed: <strerror>"
      const errno = (r: { status: number | null; stdout: string; stderr: string }): number | string =>
        r.status === 0
          ? 0
          : /^Not found$/m.test(r.stdout)
            ? Errno.ENOENT
            : (STRERROR[/failed: (.*)$|next key: (.*)$/m.exec(r.stderr)?.slice(1).find(Boolean) ?? ''] ?? r.stderr.trim());
      const le = (i: number) => Uint8Array.from([i, 0, 0, 0]);
      try {
        for (const i of [0, 9]) {
          const bytes = ['key', `${i}`, '0', '0', '0'];
          const kl = spawnSync('bpftool', ['map', 'lookup', 'pinned', pin, ...bytes], { encoding: 'utf8' });
          const bl = k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: le(i), value: new Uint8Array(value) });
          assert.equal(bl < 0 ? -bl : 0, errno(kl), `lookup key ${i}`);
          const kd = spawnSync('bpftool', ['map', 'delete', 'pinned', pin, ...bytes], { encoding: 'utf8' });
          const bd = k.bpf('BPF_MAP_DELETE_ELEM', { map_fd: fd, key: le(i) });
          assert.equal(bd < 0 ? -bd : 0, errno(kd), `delete key ${i}`);
        }
        const kn = spawnSync('bpftool', ['map', 'getnext', 'pinned', pin, 'key', '1', '0', '0', '0'], { encoding: 'utf8' });
        const bn = k.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: fd, key: le(1), next_key: new Uint8Array(key) });
        assert.equal(bn < 0 ? -bn : 0, errno(kn), 'getnext after key 1');
        const kf = spawnSync('bpftool', ['map', 'getnext', 'pinned', pin, 'key', '0', '0', '0', '0'], { encoding: 'utf8' });
        const next = new Uint8Array(key);
        const bf = k.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: fd, key: le(0), next_key: next });
        assert.equal(bf < 0 ? -bf : 0, errno(kf), 'getnext after key 0');
        if (bf === 0)
          assert.match(kf.stdout, new RegExp(`next key:\\s*${[...next].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`));
      } finally {
        rmSync(pin, { force: true });
      }
    });
  }

  VERIFY.forEach(([name, body, expected], n) => {
    it(`verify: ${name} (${expected})`, () => {
      const src = join(tmp, `v${n}.c`);
      const obj = join(tmp, `v${n}.o`);
      writeFileSync(src, HEAD + body + '\n');
      const arch = spawnSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).stdout.trim() || 'x86_64-linux-gnu';
      const cc = spawnSync('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${arch}`, '-c', src, '-o', obj], { encoding: 'utf8' });
      assert.equal(cc.status, 0, cc.stderr);
      const pins = `${DIR}/v${n}`;
      const k = spawnSync('bpftool', ['prog', 'loadall', obj, pins], { encoding: 'utf8' });
      rmSync(pins, { recursive: true, force: true });
      const kernelAccepts = k.status === 0;
      let bpfboxMsg = '';
      try {
        loadCollection(new Kernel({ ncpus: 1 }).process, readCollection(readFileSync(obj), { name: `v${n}.o` }));
      } catch (e) {
        bpfboxMsg = (e as Error).message;
      }
      assert.equal(kernelAccepts ? 'accept' : 'reject', expected, `the kernel: ${k.stderr.trim().split('\n').slice(-8).join('\n')}`);
      assert.equal(bpfboxMsg ? 'reject' : 'accept', expected, `bpfbox: ${bpfboxMsg}`);
      if (!kernelAccepts) {
        // bpfbox's message (the last line of its log) is a line of the kernel's log
        const last = bpfboxMsg
          .trim()
          .split('\n')
          .filter((l) => !l.startsWith('processed ') && !l.startsWith('verification time'))
          .pop()!;
        const line = last.replace(/^load program \S+: /, '').replace(/ \(insn \d+\)$/, '');
        assert.ok(k.stderr.includes(line), `bpfbox says '${line}'; the kernel's log:\n${k.stderr.trim().split('\n').slice(-8).join('\n')}`);
      }
    });
  });
});

describe('libbpf: a ring buffer size rounded up to a power-of-2 multiple of the page (adjust_ringbuf_sz)', () => {
  it('values computed by hand from libbpf.c', () => {
    for (const [asked, made] of [
      [0, 0],
      [8, 4096],
      [4096, 4096],
      [4097, 8192],
      [12288, 16384],
      [1 << 20, 1 << 20],
    ])
      assert.equal(adjustRingbufSize(asked), made, `${asked}`);
  });
});
