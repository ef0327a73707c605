import assert from 'node:assert/strict';
import { Kernel } from '../../kernel/kernel.js';
import type { CurrentTask } from '../../hooks/currentTask.js';
import { Errno } from '../../uapi/errno.js';
import { MapType } from '../../uapi/mapType.js';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { type Item, R0, R1, R2, R3, R4, R5, R10, add, call, exit, jmp, label, lddw, ldx, link, mov, st } from '../../vm/dsl.js';
import { Pseudo } from '../../vm/opcodes.js';

/**
 * The base helpers (hooks/helpers/cgroup.ts, pidns.ts, perfEvent.ts, percpuLookup.ts,
 * signal.ts, tracing.ts; copy_from_user refused), with hand-computed answers for a task given
 * to the runtime: cgroup path 1 → 30 → 44, pid 1234 in the namespace (dev 4, ino 4026531836).
 */
const TASK: CurrentTask = { cgroupIds: [1n, 30n, 44n], pidns: { dev: 4n, ino: 0xeffffffcn, pid: 1234, tgid: 1234 } };
const XDP = ProgType.BPF_PROG_TYPE_XDP;
const TC = ProgType.BPF_PROG_TYPE_SCHED_CLS;
const u32 = (n: number) => Uint8Array.from([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]);
const err = (e: number) => -e >>> 0;

function setup(trace: string[] = []): Kernel {
  return new Kernel({ ncpus: 2, runtime: { task: TASK, trace: (l) => trace.push(l) } });
}

function tryLoad(k: Kernel, type: number, items: Item[]): { fd: number; log: string } {
  const log = new Uint8Array(8192);
  const fd = k.bpf('BPF_PROG_LOAD', {
    prog_type: type,
    insns: encode(link(items)),
    license: 'GPL',
    log_level: 1,
    log_buf: log,
    log_size: log.length,
  });
  return { fd, log: new TextDecoder().decode(log.subarray(0, log.indexOf(0))) };
}

/** retval runs `items` once on a 60-byte frame and returns the program's u32 return value. */
function retval(k: Kernel, type: number, items: Item[]): number {
  const { fd, log } = tryLoad(k, type, items);
  assert.ok(fd > 0, log);
  const frame = Uint8Array.from({ length: 60 }, (_, i) => (i === 12 ? 8 : 0));
  const a = { prog_fd: fd, data_in: frame, retval: 0 };
  assert.equal(k.bpf('BPF_PROG_TEST_RUN', a), 0);
  return a.retval;
}

describe('base helpers', () => {
  it("bpf_get_current_cgroup_id and _ancestor_cgroup_id: the task's cgroup, its ancestors by level, 0 past its level", () => {
    const k = setup();
    assert.equal(retval(k, XDP, [call(80), exit()]), 44);
    for (const [level, want] of [
      [0, 1],
      [1, 30],
      [2, 44],
      [3, 0],
      [-1, 0],
    ])
      assert.equal(retval(k, XDP, [mov(R1, level), call(123), exit()]), want, `level ${level}`);
    // no task given: the root cgroup, id 1
    assert.equal(retval(new Kernel(), XDP, [call(80), exit()]), 1);
  });

  it('bpf_current_task_under_cgroup and bpf_skb_under_cgroup: 1 for an ancestor in the slot, 0 for another cgroup, -EAGAIN empty, -E2BIG past the end', () => {
    const k = setup();
    const cg = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_CGROUP_ARRAY, key_size: 4, value_size: 4, max_entries: 4 });
    // what an update with a cgroup directory's fd stores: that cgroup's id (the door has no cgroup fds yet)
    const slots = k.process.mapOf(cg).map.map;
    slots.updateBytes(u32(0), u32(30), 0);
    slots.updateBytes(u32(1), u32(99), 0);
    slots.updateBytes(u32(2), u32(44), 0);
    const task = (i: number) => [lddw(R1, cg, Pseudo.BPF_PSEUDO_MAP_FD), mov(R2, i), call(37), exit()];
    const skb = (i: number) => [lddw(R2, cg, Pseudo.BPF_PSEUDO_MAP_FD), mov(R3, i), call(33), exit()];
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((i) => retval(k, XDP, task(i))),
      [1, 0, 1, err(Errno.EAGAIN), err(Errno.E2BIG)],
    );
    // the test run's skb has a socket the calling task made: in the task's cgroup
    assert.deepEqual(
      [0, 1, 3, 4].map((i) => retval(k, TC, skb(i))),
      [1, 0, err(Errno.EAGAIN), err(Errno.E2BIG)],
    );
    const xdp = tryLoad(k, XDP, skb(0));
    assert.equal(xdp.fd, -Errno.EINVAL);
    assert.match(xdp.log, /program of this type cannot use helper bpf_skb_under_cgroup#33/);
    const hash = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 4 });
    const wrong = tryLoad(k, XDP, [lddw(R1, hash, Pseudo.BPF_PSEUDO_MAP_FD), mov(R2, 0), call(37), exit()]);
    assert.match(wrong.log, /cannot pass map_type 2 into func bpf_current_task_under_cgroup#37/);
  });

  it("bpf_get_ns_current_pid_tgid: pid and tgid in the task's own namespace; a wrong size, dev or ino is -EINVAL with the buffer zeroed", () => {
    const k = setup();
    const prog = (dev: number, ino: bigint, size: number, read: 0 | 4 | 'ret') => [
      st('u64', R10, -8, -1),
      mov(R1, dev),
      lddw(R2, ino),
      mov(R3, R10),
      add(R3, -8),
      mov(R4, size),
      call(120),
      ...(read === 'ret' ? [] : [ldx('u32', R0, R10, -8 + read)]),
      exit(),
    ];
    assert.equal(retval(k, XDP, prog(4, 0xeffffffcn, 8, 'ret')), 0);
    assert.equal(retval(k, XDP, prog(4, 0xeffffffcn, 8, 0)), 1234);
    assert.equal(retval(k, XDP, prog(4, 0xeffffffcn, 8, 4)), 1234);
    assert.equal(retval(k, XDP, prog(5, 0xeffffffcn, 8, 'ret')), err(Errno.EINVAL));
    assert.equal(retval(k, XDP, prog(5, 0xeffffffcn, 8, 4)), 0);
    assert.equal(retval(k, XDP, prog(4, 0xeffffffdn, 8, 'ret')), err(Errno.EINVAL));
    // a 4-byte buffer: -EINVAL, those 4 bytes zeroed, the next 4 as they were
    assert.equal(retval(k, XDP, prog(4, 0xeffffffcn, 4, 'ret')), err(Errno.EINVAL));
    assert.equal(retval(k, XDP, prog(4, 0xeffffffcn, 4, 0)), 0);
    assert.equal(retval(k, XDP, prog(4, 0xeffffffcn, 4, 4)), 0xffffffff);
  });

  it("bpf_perf_event_read(_value): this CPU's opened slot reads 0, another CPU's -EINVAL, empty -ENOENT, past the end -E2BIG, stray flags -EINVAL", () => {
    const k = setup();
    const pa = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY, key_size: 4, value_size: 4, max_entries: 3 });
    const read = (flags: bigint) => [lddw(R1, pa, Pseudo.BPF_PSEUDO_MAP_FD), lddw(R2, flags), call(22), exit()];
    assert.equal(retval(k, XDP, read(0xffffffffn)), err(Errno.ENOENT));
    // openPerfEvents' markers: slot = CPU, value CPU + 1
    for (const cpu of [0, 1]) k.process.mapOf(pa).map.map.updateBytes(u32(cpu), u32(cpu + 1), 0);
    assert.deepEqual(
      [0xffffffffn, 0n, 1n, 2n, 3n, 1n << 32n].map((f) => retval(k, XDP, read(f))),
      [0, 0, err(Errno.EINVAL), err(Errno.ENOENT), err(Errno.E2BIG), err(Errno.EINVAL)],
    );
    // _value: 0 and a zeroed bpf_perf_event_value; with size 16, -EINVAL and 16 bytes zeroed
    const value = (size: number, at: number) => [
      st('u64', R10, -24, -1),
      st('u64', R10, -16, -1),
      st('u64', R10, -8, -1),
      lddw(R1, pa, Pseudo.BPF_PSEUDO_MAP_FD),
      mov(R2, 0),
      mov(R3, R10),
      add(R3, -24),
      mov(R4, size),
      call(55),
      jmp('jne', R0, 0, 'out'),
      ldx('u32', R0, R10, at),
      label('out'),
      exit(),
    ];
    assert.equal(retval(k, XDP, value(24, -8)), 0);
    assert.equal(retval(k, XDP, value(16, -24)), err(Errno.EINVAL));
  });

  it("bpf_map_lookup_percpu_elem: another CPU's value; NULL past the CPUs; the verifier wants the NULL check even for a constant key", () => {
    const k = setup();
    const pc = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_PERCPU_ARRAY, key_size: 4, value_size: 8, max_entries: 1 });
    const both = new Uint8Array(16);
    both.set([5], 0);
    both.set([9], 8);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: pc, key: u32(0), value: both, flags: 0 }), 0);
    const prog = (cpu: number, check = true) => [
      st('u32', R10, -4, 0),
      lddw(R1, pc, Pseudo.BPF_PSEUDO_MAP_FD),
      mov(R2, R10),
      add(R2, -4),
      mov(R3, cpu),
      call(195),
      ...(check ? [jmp('jeq', R0, 0, 'null')] : []),
      ldx('u64', R0, R0, 0),
      exit(),
      ...(check ? [label('null'), mov(R0, 0xdead), exit()] : []),
    ];
    assert.deepEqual(
      [0, 1, 2].map((c) => retval(k, XDP, prog(c))),
      [5, 9, 0xdead],
    );
    assert.match(tryLoad(k, XDP, prog(0, false)).log, /invalid mem access 'map_value_or_null'/);
    const arr = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 8, max_entries: 1 });
    const wrong = tryLoad(k, XDP, [
      st('u32', R10, -4, 0),
      lddw(R1, arr, Pseudo.BPF_PSEUDO_MAP_FD),
      mov(R2, R10),
      add(R2, -4),
      mov(R3, 0),
      call(195),
      mov(R0, 0),
      exit(),
    ]);
    assert.match(wrong.log, /cannot pass map_type 2 into func bpf_map_lookup_percpu_elem#195/);
  });

  it('bpf_send_signal(_thread): a valid signal returns 0 and is counted, not delivered; above _NSIG -EINVAL', () => {
    const k = setup();
    assert.equal(retval(k, XDP, [mov(R1, 10), call(109), exit()]), 0);
    assert.equal(retval(k, XDP, [mov(R1, 10), call(109), exit()]), 0);
    assert.equal(retval(k, XDP, [mov(R1, 64), call(117), exit()]), 0);
    assert.equal(retval(k, XDP, [mov(R1, 65), call(109), exit()]), err(Errno.EINVAL));
    assert.deepEqual(
      [...k.runtime(0).signals],
      [
        ['process:10', 2],
        ['thread:64', 1],
      ],
    );
  });

  it('bpf_trace_vprintk prints to the trace sink and returns the length; bad data_len, a format without its NUL or with too few arguments are -EINVAL', () => {
    const trace: string[] = [];
    const k = setup(trace);
    // "x=%d %u\n\0" at fp-16, args [-3, 42] at fp-32
    const fmt = new TextEncoder().encode('x=%d %u\n\0');
    const words = [0, 4].map((o) => fmt[o] | (fmt[o + 1] << 8) | (fmt[o + 2] << 16) | (fmt[o + 3] << 24));
    const prog = (fmtSize: number, dataLen: number) => [
      st('u32', R10, -16, words[0]),
      st('u32', R10, -12, words[1]),
      st('u64', R10, -8, fmt[8] | (fmt[9] << 8)),
      st('u64', R10, -32, -3),
      st('u64', R10, -24, 42),
      mov(R1, R10),
      add(R1, -16),
      mov(R2, fmtSize),
      mov(R3, R10),
      add(R3, -32),
      mov(R4, dataLen),
      call(177),
      exit(),
    ];
    assert.equal(retval(k, XDP, prog(10, 16)), 'x=-3 42\n'.length);
    assert.deepEqual(trace, ['x=-3 42']);
    assert.equal(retval(k, XDP, prog(10, 12)), err(Errno.EINVAL));
    assert.equal(retval(k, XDP, prog(10, 8)), err(Errno.EINVAL));
    // fmt_size 8 stops before the NUL
    assert.equal(retval(k, XDP, prog(9, 16)), 'x=-3 42\n'.length);
    assert.equal(retval(k, XDP, prog(8, 16)), err(Errno.EINVAL));
    assert.equal(trace.length, 2);
  });

  it('bpf_get_branch_snapshot: no LBR here: -ENOENT, flags -EINVAL; bpf_skb_get_xfrm_state: no sec_path, -EINVAL', () => {
    const k = setup();
    const snap = (flags: number) => [mov(R1, R10), add(R1, -24), mov(R2, 24), mov(R3, flags), call(176), exit()];
    assert.equal(retval(k, XDP, snap(0)), err(Errno.ENOENT));
    assert.equal(retval(k, XDP, snap(1)), err(Errno.EINVAL));
    const xfrm = (r1: Item[], read: boolean) => [
      st('u64', R10, -8, -1),
      ...r1,
      mov(R2, 0),
      mov(R3, R10),
      add(R3, -8),
      mov(R4, 8),
      mov(R5, 0),
      call(66),
      ...(read ? [ldx('u32', R0, R10, -4)] : []),
      exit(),
    ];
    assert.match(tryLoad(k, TC, xfrm([mov(R1, 0)], false)).log, /R1 type=scalar expected=ctx/);
    assert.equal(retval(k, TC, xfrm([], false)), err(Errno.EINVAL));
    assert.equal(retval(k, TC, xfrm([], true)), 0);
  });

  it('bpf_copy_from_user and _task are offered and refused as the kernel refuses them in a program that is not sleepable', () => {
    const k = setup();
    for (const [id, name] of [
      [148, 'bpf_copy_from_user'],
      [191, 'bpf_copy_from_user_task'],
    ] as const) {
      const r = tryLoad(k, XDP, [mov(R1, R10), add(R1, -8), mov(R2, 8), mov(R3, 0), call(id), exit()]);
      assert.equal(r.fd, -Errno.EINVAL);
      assert.match(r.log, new RegExp(`call ${name}#${id}\\nhelper call might sleep in a non-sleepable prog\\n`));
    }
  });
});
