import assert from 'node:assert/strict';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { Kernel } from '../../kernel/kernel.js';
import { Errno } from '../../uapi/errno.js';
import { MapFlag, MapType } from '../../uapi/mapType.js';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { type Item, R0, R1, R2, R3, R4, R5, R6, R10, add, call, exit, jne, label, lddw, ldx, link, mov, st, stx } from '../../vm/dsl.js';
import { Pseudo } from '../../vm/opcodes.js';
import { verify } from '../../vm/verifier/verify.js';

/*
 * `current` as a kernel object (hooks/helpers/currentTask.ts, vm/verifier/btfStruct.ts). The
 * offsets are the running 6.18 kernel's (`bpftool btf dump file /sys/kernel/btf/vmlinux`):
 * task_struct is 3264 bytes, `stack` (a pointer) at 32, pid at 1264, tgid at 1268, comm[16] at 1752.
 */
const TC = ProgType.BPF_PROG_TYPE_SCHED_CLS;
const PID = 1264;
const TGID = 1268;
const COMM = 1752;
const frame = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i === 12 ? 8 : i === 13 ? 0 : i));

function load(k: Kernel, items: Item[]): number {
  const log = new Uint8Array(8192);
  const fd = k.bpf('BPF_PROG_LOAD', {
    prog_type: TC,
    insns: encode(link(items)),
    license: 'GPL',
    log_level: 1,
    log_buf: log,
    log_size: log.length,
  });
  assert.ok(fd > 0, new TextDecoder().decode(log.subarray(0, log.indexOf(0))));
  return fd;
}

function run(k: Kernel, fd: number): number {
  const a = { prog_fd: fd, data_in: frame(60), data_out: new Uint8Array(4096), retval: 0, data_size_out: 0 };
  assert.equal(k.bpf('BPF_PROG_TEST_RUN', a), 0);
  return a.retval;
}

/** refusal: the verifier's one-line answer for a tc program (funcInfo: callbacks may be given). */
function refusal(items: Item[]): string {
  const v = verify(link(items), { progType: TC, ops: verifierOpsOf(TC), funcInfo: true });
  return v.ok ? 'ok' : v.message;
}

const localStorage = (k: Kernel, type: number, flags: number = MapFlag.BPF_F_NO_PREALLOC) =>
  k.bpf('BPF_MAP_CREATE', {
    map_type: type,
    key_size: 4,
    value_size: 8,
    max_entries: 0,
    map_flags: flags,
    btf_desc: { key: { k: 'int', size: 4, signed: true }, value: { k: 'int', size: 8, signed: false } },
  });

describe('current as a kernel object: bpf_get_current_task_btf and the task_struct fields', () => {
  it('pid, tgid and comm read at the kernel offsets are the process id and title, as the other helpers give them', () => {
    const k = new Kernel({ ncpus: 1 });
    assert.equal(run(k, load(k, [call(158), ldx('u32', R0, R0, PID), exit()])), process.pid);
    assert.equal(run(k, load(k, [call(158), ldx('u32', R0, R0, TGID), exit()])), process.pid);
    // comm's first 4 bytes, little-endian, against the title's
    const t = new TextEncoder().encode(process.title);
    const word = (t[0] | (t[1] << 8) | (t[2] << 16) | (t[3] << 24)) >>> 0;
    assert.equal(run(k, load(k, [call(158), ldx('u32', R0, R0, COMM), exit()])) >>> 0, word);
  });
  it('the verifier reads struct members as btf_struct_walk does', () => {
    const read = (size: 'u8' | 'u16' | 'u32' | 'u64', off: number, then: Item[] = []) =>
      refusal([call(158), ldx(size, R1, R0, off), ...then, mov(R0, 0), exit()]);
    assert.equal(read('u64', COMM + 8), 'ok'); // inside an array of chars
    assert.equal(read('u8', PID + 1), 'ok'); // inside an int
    assert.equal(read('u64', PID), 'access beyond the end of member pid (mend:1268) in struct task_struct with off 1264 size 8');
    assert.equal(read('u32', 32), 'cannot access ptr member stack with moff 32 in struct task_struct with off 32 size 4');
    assert.equal(read('u32', 3264), 'access beyond struct task_struct at off 3264 size 4');
    // a pointer member is read whole, then not walked here (the kernel's untrusted pointer: bpfbox refuses its loads)
    assert.equal(read('u64', 32), 'ok');
    assert.notEqual(read('u64', 32, [ldx('u64', R1, R1, 0)]), 'ok');
    assert.equal(refusal([call(158), st('u32', R0, PID, 1), mov(R0, 0), exit()]), 'only read is supported');
    // a helper reading task memory reads it as one load of its size: all of comm, not pid and tgid at once
    const csumDiff = (off: number, size: number) =>
      refusal([call(158), mov(R1, R0), add(R1, off), mov(R2, size), mov(R3, 0), mov(R4, 0), mov(R5, 0), call(28), exit()]);
    assert.equal(csumDiff(COMM, 16), 'ok');
    assert.equal(csumDiff(PID, 8), 'access beyond the end of member pid (mend:1268) in struct task_struct with off 1264 size 8');
    assert.equal(refusal([call(158), mov(R1, R0), call(175), ldx('u64', R0, R0, 160), exit()]), 'ok'); // pt_regs.ss
    assert.equal(
      refusal([call(158), mov(R1, R0), call(175), ldx('u64', R0, R0, 168), exit()]),
      'access beyond struct pt_regs at off 168 size 8',
    );
  });
});

describe('task and cgroup local storage', () => {
  it('map creation: BPF_F_NO_PREALLOC required, max_entries 0, a 4-byte key; userspace has no pidfd: EBADF', () => {
    const k = new Kernel({ ncpus: 1 });
    assert.equal(localStorage(k, MapType.BPF_MAP_TYPE_TASK_STORAGE, 0), -Errno.EINVAL);
    assert.equal(localStorage(k, MapType.BPF_MAP_TYPE_CGRP_STORAGE, 0), -Errno.EINVAL);
    const m = localStorage(k, MapType.BPF_MAP_TYPE_TASK_STORAGE);
    assert.ok(m > 0);
    assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: m, key: new Uint8Array(4), value: new Uint8Array(8) }), -Errno.EBADF);
  });
  it('bpf_task_storage_get creates with F_CREATE and finds it after; delete is 0 then -ENOENT; NULL task: NULL / -EINVAL', () => {
    const k = new Kernel({ ncpus: 1 });
    const m = localStorage(k, MapType.BPF_MAP_TYPE_TASK_STORAGE);
    // get(current, NULL value, flags): NULL -> 1000, else ++*v
    const get = (flags: number) => [
      call(158),
      mov(R2, R0),
      lddw(R1, m, Pseudo.BPF_PSEUDO_MAP_FD),
      mov(R3, 0),
      mov(R4, flags),
      call(156),
      jne(R0, 0, 'found'),
      mov(R0, 1000),
      exit(),
      label('found'),
      ldx('u64', R1, R0, 0),
      add(R1, 1),
      stx('u64', R0, 0, R1),
      mov(R0, R1),
      exit(),
    ];
    const del = load(k, [call(158), mov(R2, R0), lddw(R1, m, Pseudo.BPF_PSEUDO_MAP_FD), call(157), exit()]);
    const lookup = load(k, get(0));
    const create = load(k, get(1));
    assert.equal(run(k, lookup), 1000); // none yet
    assert.deepEqual([run(k, create), run(k, create), run(k, lookup)], [1, 2, 3]); // created zeroed, then the same value
    assert.equal(run(k, del), 0);
    assert.equal(run(k, del), -Errno.ENOENT >>> 0);
    assert.equal(run(k, lookup), 1000);
    assert.equal(run(k, load(k, get(2))), 1000); // a flag other than F_CREATE: NULL
    // a NULL task (ARG_PTR_TO_BTF_ID_OR_NULL): get NULL, delete -EINVAL
    assert.equal(run(k, load(k, [lddw(R1, m, Pseudo.BPF_PSEUDO_MAP_FD), mov(R2, 0), mov(R3, 0), mov(R4, 1), call(156), exit()])), 0);
    assert.equal(run(k, load(k, [lddw(R1, m, Pseudo.BPF_PSEUDO_MAP_FD), mov(R2, 0), call(157), exit()])), -Errno.EINVAL >>> 0);
  });
  it('an initial value is copied in at creation', () => {
    const k = new Kernel({ ncpus: 1 });
    const m = localStorage(k, MapType.BPF_MAP_TYPE_TASK_STORAGE);
    const fd = load(k, [
      st('u64', R10, -8, 77),
      call(158),
      mov(R2, R0),
      lddw(R1, m, Pseudo.BPF_PSEUDO_MAP_FD),
      mov(R3, R10),
      add(R3, -8),
      mov(R4, 1),
      call(156),
      jne(R0, 0, 'found'),
      exit(),
      label('found'),
      ldx('u64', R0, R0, 0),
      exit(),
    ]);
    assert.equal(run(k, fd), 77);
  });
  it('the verifier: the task argument is a task_struct, its map a task storage; cgroup storage takes a cgroup or NULL', () => {
    const k = new Kernel({ ncpus: 1 });
    const task = localStorage(k, MapType.BPF_MAP_TYPE_TASK_STORAGE);
    const cgrp = localStorage(k, MapType.BPF_MAP_TYPE_CGRP_STORAGE);
    const hash = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_HASH, key_size: 4, value_size: 8, max_entries: 4 });
    const log = new Uint8Array(8192);
    const tryLoad = (items: Item[]) => {
      log.fill(0);
      const fd = k.bpf('BPF_PROG_LOAD', {
        prog_type: TC,
        insns: encode(link(items)),
        license: 'GPL',
        log_level: 1,
        log_buf: log,
        log_size: log.length,
      });
      // the refusal: the log's line before `processed N insns`
      const text = new TextDecoder()
        .decode(log.subarray(0, log.indexOf(0)))
        .trim()
        .split('\n');
      return fd > 0 ? 'ok' : text[text.length - 2];
    };
    const get = (map: number, owner: Item[]) => [
      ...owner,
      lddw(R1, map, Pseudo.BPF_PSEUDO_MAP_FD),
      mov(R3, 0),
      mov(R4, 0),
      call(156),
      mov(R0, 0),
      exit(),
    ];
    assert.equal(tryLoad(get(task, [call(158), mov(R2, R0)])), 'ok');
    assert.equal(tryLoad(get(task, [mov(R2, 0)])), 'ok');
    assert.match(tryLoad(get(hash, [call(158), mov(R2, R0)])), /cannot pass map_type 1 into func bpf_task_storage_get#156/);
    assert.match(tryLoad(get(task, [mov(R2, R10)])), /R2 type=fp expected=ptr_, trusted_ptr_, rcu_ptr_/);
    // a pointer member read out of the task is untrusted: not a task argument
    assert.match(tryLoad(get(task, [call(158), ldx('u64', R2, R0, 32)])), /R2 type=.* expected=ptr_, trusted_ptr_, rcu_ptr_/);
    const cg = (owner: Item[]) => [...owner, lddw(R1, cgrp, Pseudo.BPF_PSEUDO_MAP_FD), mov(R3, 0), mov(R4, 1), call(210), exit()];
    assert.equal(tryLoad(cg([mov(R2, 0)])), 'ok');
    assert.match(tryLoad(cg([call(158), mov(R2, R0)])), /R2 is of type task_struct but cgroup is expected/);
    // cgroup storage with a NULL cgroup: NULL at run time
    assert.equal(run(k, load(k, cg([mov(R2, 0)]))), 0);
  });
});

describe('bpf_find_vma, bpf_get_task_stack', () => {
  // r0 = current; find_vma(current, addr 0, cb, NULL, flags); cb(task, vma, ctx) reads vma->vm_start (offset 0) and returns `ret`
  const findVma = (flags: number, ret: number) => [
    call(158),
    mov(R1, R0),
    mov(R2, 0),
    lddw(R3, 5, Pseudo.BPF_PSEUDO_FUNC), // slots 3-4: the callback at 3 + 1 + 5 = 9
    mov(R4, 0),
    mov(R5, flags),
    call(180),
    exit(),
    ldx('u64', R0, R2, 0),
    mov(R0, ret),
    exit(),
  ];
  it('the callback is verified with a vm_area_struct it may read and must return 0 or 1', () => {
    assert.equal(refusal(findVma(0, 0)), 'ok');
    assert.equal(refusal(findVma(0, 2)), 'At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]');
  });
  it('no VMAs here: -ENOENT without calling the callback; flags: -EINVAL', () => {
    const k = new Kernel({ ncpus: 1 });
    const fn = k.runtime(0).helpers.get(180)!.fn;
    const task = k
      .runtime(0)
      .helpers.get(158)!
      .fn(0n, 0n, 0n, 0n, 0n, {} as never);
    assert.equal(fn(task, 0n, 0n, 0n, 0n, {} as never), BigInt.asUintN(64, BigInt(-Errno.ENOENT)));
    assert.equal(fn(task, 0n, 0n, 0n, 1n, {} as never), BigInt.asUintN(64, BigInt(-Errno.EINVAL)));
  });
  it('bpf_get_task_stack: the empty trace (0, the buffer zeroed); a size not a whole number of entries: -EINVAL', () => {
    const k = new Kernel({ ncpus: 1 });
    // fill fp-16..-1 with 0xff.., get_task_stack(current, fp-16, size, 0), return r0 + the first byte
    const prog = (size: number) =>
      load(k, [
        st('u64', R10, -16, -1),
        st('u64', R10, -8, -1),
        call(158),
        mov(R1, R0),
        mov(R2, R10),
        add(R2, -16),
        mov(R3, size),
        mov(R4, 0),
        call(141),
        mov(R6, R0),
        ldx('u8', R0, R10, -16),
        add(R0, R6),
        exit(),
      ]);
    assert.equal(run(k, prog(16)), 0);
    assert.equal(run(k, prog(12)), -Errno.EINVAL >>> 0); // the buffer zeroed (its first byte 0 added), -EINVAL
  });
});
