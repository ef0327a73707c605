import assert from 'node:assert/strict';
import { Kernel } from '../../kernel/kernel.js';
import { RingBuf } from '../../maps/ringbuf.js';
import { Errno } from '../../uapi/errno.js';
import { MapType } from '../../uapi/mapType.js';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import {
  type Item,
  R0,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R10,
  add,
  call,
  exit,
  jmp,
  label,
  lddw,
  ldx,
  link,
  mov,
  st,
  stx,
} from '../../vm/dsl.js';
import { Pseudo } from '../../vm/opcodes.js';

/**
 * The dynptr helpers (hooks/helpers/dynptr.ts, maps/ringbufDynptr.ts, vm/verifier/dynptr.ts)
 * against values computed by hand from kernel/bpf/helpers.c and ringbuf.c: each helper's raw
 * answer is kept in a `results` array value, the bytes it moved are read back from the maps.
 */

const XDP = ProgType.BPF_PROG_TYPE_XDP;
const [FROM_MEM, RESERVE, SUBMIT, DISCARD, READ, WRITE, DATA] = [197, 198, 199, 200, 201, 202, 203];
const E2BIG = BigInt.asUintN(64, BigInt(-Errno.E2BIG));
const EINVAL = BigInt.asUintN(64, BigInt(-Errno.EINVAL));

function load(k: Kernel, items: Item[]): { fd: number; log: string } {
  const log = new Uint8Array(1 << 16);
  const fd = k.bpf('BPF_PROG_LOAD', {
    prog_type: XDP,
    insns: encode(link(items)),
    license: 'GPL',
    log_level: 1,
    log_buf: log,
    log_size: log.length,
  });
  return { fd, log: new TextDecoder().decode(log.subarray(0, log.indexOf(0))) };
}

function array(k: Kernel, valueSize: number): number {
  return k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: valueSize, max_entries: 1 });
}

function value(k: Kernel, fd: number, size: number): Uint8Array {
  const v = new Uint8Array(size);
  assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: new Uint8Array(4), value: v }), 0);
  return v;
}

/** `r` = the value of array `m` at key 0 (a constant key: never NULL). */
const lookup = (r: typeof R6, m: number): Item[] => [
  st('u32', R10, -4, 0),
  mov(R2, R10),
  add(R2, -4),
  lddw(R1, m, Pseudo.BPF_PSEUDO_MAP_FD),
  call(1),
  mov(r, R0),
];
/** r1..r5 = args (a number, or a stack offset from fp given as ['fp', off], or a register). */
const args = (...a: (number | typeof R6 | ['fp', number])[]): Item[] =>
  a.flatMap((x, i) => {
    const r = [R1, R2, R3, R4, R5][i];
    return Array.isArray(x) ? [mov(r, R10), add(r, x[1])] : [mov(r, x)];
  });
/** results[i] = r0 (r7 holds the results value). */
const keep = (i: number): Item => stx('u64', R7, i * 8, R0);
const run = (k: Kernel, fd: number) => {
  const a = { prog_fd: fd, data_in: new Uint8Array(64), data_out: new Uint8Array(256), retval: 0, data_size_out: 0 };
  assert.equal(k.bpf('BPF_PROG_TEST_RUN', a), 0);
  return a.retval;
};
const u64s = (b: Uint8Array): bigint[] => Array.from({ length: b.length / 8 }, (_, i) => new DataView(b.buffer).getBigUint64(i * 8, true));

describe('dynptr helpers', () => {
  it('local dynptr over a map value: from_mem, write, read, data, with the kernel errnos for bounds and flags', () => {
    const k = new Kernel({ ncpus: 1 });
    const data = array(k, 16);
    const res = array(k, 12 * 8);
    const prog = [
      ...lookup(R6, data),
      ...lookup(R7, res),
      // fp-16: the dynptr; fp-24: 8 source bytes 0x1122334455667788
      lddw(R1, 0x1122334455667788n),
      stx('u64', R10, -24, R1),
      ...args(R6, 16, 0, ['fp', -16]),
      call(FROM_MEM),
      keep(0), // 0
      ...args(['fp', -16], 12, ['fp', -24], 4, 0),
      call(WRITE),
      keep(1), // 0: bytes 12..15 = 88 77 66 55
      ...args(['fp', -16], 13, ['fp', -24], 4, 0),
      call(WRITE),
      keep(2), // 13 + 4 > 16: -E2BIG
      ...args(['fp', -16], 0, ['fp', -24], 4, 1),
      call(WRITE),
      keep(3), // flags on a local dynptr: -EINVAL
      st('u64', R10, -32, 0),
      ...args(['fp', -32], 8, ['fp', -16], 8, 0),
      call(READ),
      keep(4), // 0: fp-32 = bytes 8..15
      ldx('u64', R1, R10, -32),
      stx('u64', R7, 7 * 8, R1),
      ...args(['fp', -32], 8, ['fp', -16], 9, 0),
      call(READ),
      keep(5), // -E2BIG
      ...args(['fp', -32], 8, ['fp', -16], 0, 1),
      call(READ),
      keep(6), // -EINVAL
      // dynptr_data(4, 4): the value's bytes 4..7, written through the slice
      ...args(['fp', -16], 4, 4),
      call(DATA),
      jmp('jeq', R0, 0, 'null'),
      st('u32', R0, 0, 0x0a0b0c0d),
      label('null'),
      ...args(['fp', -16], 13, 4),
      call(DATA),
      keep(8), // 13 + 4 > 16: NULL
      // from_mem with flags: -EINVAL and a NULL dynptr, which read refuses with -EINVAL
      ...args(R6, 16, 1, ['fp', -48]),
      call(FROM_MEM),
      keep(9),
      ...args(['fp', -32], 1, ['fp', -48], 0, 0),
      call(READ),
      keep(10),
      ...args(['fp', -48], 0, 4),
      call(DATA),
      keep(11), // NULL
      mov(R0, 2),
      exit(),
    ];
    const { fd, log } = load(k, prog);
    assert.ok(fd > 0, log);
    assert.equal(run(k, fd), 2);
    const r = u64s(value(k, res, 12 * 8));
    assert.deepEqual(
      [r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[8], r[9], r[10], r[11]],
      [0n, 0n, E2BIG, EINVAL, 0n, E2BIG, EINVAL, 0n, EINVAL, EINVAL, 0n],
    );
    // the value: bytes 4..7 from the slice (0x0a0b0c0d little-endian), 12..15 the low 4 source bytes
    assert.deepEqual([...value(k, data, 16)], [0, 0, 0, 0, 0x0d, 0x0c, 0x0b, 0x0a, 0, 0, 0, 0, 0x88, 0x77, 0x66, 0x55]);
    // results[7]: the 8 bytes bpf_dynptr_read copied to fp-32 (the value's bytes 8..15)
    assert.equal(r[7], 0x5566778800000000n);
  });

  it('ringbuf dynptr: a reserved record written then submitted reaches the ring; discarded ones and failed reserves do not', () => {
    const k = new Kernel({ ncpus: 1 });
    const rb = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_RINGBUF, key_size: 0, value_size: 0, max_entries: 4096 });
    const res = array(k, 4 * 8);
    const reserve = (size: number, flags: number, at: number): Item[] => [
      lddw(R1, rb, Pseudo.BPF_PSEUDO_MAP_FD),
      ...args(R1, size, flags, ['fp', at]).slice(1),
      call(RESERVE),
    ];
    const prog = [
      ...lookup(R7, res),
      lddw(R1, 0x0102030405060708n),
      stx('u64', R10, -8, R1),
      ...reserve(8, 0, -24),
      keep(0),
      ...args(['fp', -24], 0, ['fp', -8], 8, 0),
      call(WRITE),
      keep(1),
      ...args(['fp', -24], 0),
      call(SUBMIT),
      ...reserve(4, 0, -40),
      ...args(['fp', -40], 0),
      call(DISCARD),
      // flags: -EINVAL, the dynptr NULL, yet it must be discarded (the verifier holds its reference)
      ...reserve(4, 1, -40),
      keep(2),
      ...args(['fp', -40], 0),
      call(DISCARD),
      // past DYNPTR_MAX_SIZE: -E2BIG
      ...reserve(1 << 24, 0, -40),
      keep(3),
      ...args(['fp', -40], 0),
      call(SUBMIT),
      mov(R0, 2),
      exit(),
    ];
    const { fd, log } = load(k, prog);
    assert.ok(fd > 0, log);
    assert.equal(run(k, fd), 2);
    assert.deepEqual(u64s(value(k, res, 32)), [0n, 0n, EINVAL, E2BIG]);
    const ring = [...k.maps.values()].map((o) => o.map).find((m) => m instanceof RingBuf) as RingBuf;
    assert.deepEqual(
      ring.consume().map((r) => [...r]),
      [[8, 7, 6, 5, 4, 3, 2, 1]],
    );
  });

  it('the verifier: a ringbuf dynptr must be released, only once, and its slice dies with it; from_mem takes map values only', () => {
    const k = new Kernel({ ncpus: 1 });
    const rb = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_RINGBUF, key_size: 0, value_size: 0, max_entries: 4096 });
    const reserve = [lddw(R1, rb, Pseudo.BPF_PSEUDO_MAP_FD), ...args(R1, 8, 0, ['fp', -16]).slice(1), call(RESERVE)];
    const submit = [...args(['fp', -16], 0), call(SUBMIT)];
    const ok = (items: Item[]) => load(k, [...items, mov(R0, 2), exit()]);
    const refused = (items: Item[], why: RegExp) => {
      const { fd, log } = ok(items);
      assert.ok(fd < 0, `loaded: ${log}`);
      assert.match(log, why);
    };
    assert.ok(ok([...reserve, ...submit]).fd > 0);
    refused(reserve, /Unreleased reference/);
    refused([...reserve, ...submit, ...submit], /Expected an initialized dynptr|unacquired reference/);
    // the slice of bpf_dynptr_data is not readable after the submit
    refused(
      [
        ...reserve,
        ...args(['fp', -16], 0, 8),
        call(DATA),
        mov(R6, R0),
        ...submit,
        jmp('jeq', R6, 0, 'out'),
        st('u32', R6, 0, 1),
        label('out'),
      ],
      /invalid mem access 'scalar'/,
    );
    // a referenced dynptr may not be overwritten, nor a helper write over it
    refused([...reserve, st('u64', R10, -16, 0), ...submit], /cannot overwrite referenced dynptr/);
    refused([...reserve, ...args(['fp', -16], 8, ['fp', -16], 0, 0), call(READ), ...submit], /potential write to dynptr/);
    // a local dynptr must be over a map value: a stack buffer is refused
    refused(
      [st('u64', R10, -24, 0), ...args(['fp', -24], 8, 0, ['fp', -16]), call(FROM_MEM)],
      /Unsupported reg type fp for bpf_dynptr_from_mem data/,
    );
    // a ringbuf dynptr's release wants a ringbuf dynptr
    const data = array(k, 16);
    refused([...lookup(R6, data), ...args(R6, 16, 0, ['fp', -16]), call(FROM_MEM), ...submit], /unacquired reference/);
    // a local dynptr overwritten: its slice is gone
    refused(
      [
        ...lookup(R6, data),
        ...args(R6, 16, 0, ['fp', -16]),
        call(FROM_MEM),
        ...args(['fp', -16], 0, 8),
        call(DATA),
        jmp('jeq', R0, 0, 'out'),
        st('u64', R10, -8, 0),
        st('u32', R0, 0, 1),
        label('out'),
      ],
      /invalid mem access 'scalar'/,
    );
  });
});
