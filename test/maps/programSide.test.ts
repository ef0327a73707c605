import assert from 'node:assert/strict';
import { ProgType } from '../../uapi/progType.js';
import { Kernel } from '../../kernel/kernel.js';
import { MapType } from '../../uapi/mapType.js';
import type { RingBuf } from '../../maps/ringbuf.js';
import { machineFor } from '../../maps/programSide.js';
import { encode } from '../../vm/decode.js';
import { R0, R1, R2, R3, R4, R6, R10, add, atomic, call, exit, jeq, label, lddw, ldx, link, mov, st, stx } from '../../vm/dsl.js';
import { interpreter } from '../../vm/interpreter/interpreter.js';
import { Pseudo } from '../../vm/opcodes.js';
import { le32 } from './support.js';

function load(k: Kernel, insns: Uint8Array) {
  const fd = k.bpf('BPF_PROG_LOAD', { prog_type: ProgType.BPF_PROG_TYPE_XDP, insns, license: 'GPL' });
  assert.ok(fd > 0, `load: ${fd}`);
  const prog = k.process.progOf(fd);
  return interpreter.prepare(prog.program, machineFor(k.memory, prog));
}

describe('maps from the program side', () => {
  it('a program counts in an array map through bpf_map_lookup_elem and an atomic add', () => {
    const k = new Kernel({ memory: undefined, ncpus: 1 });
    const map = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 8, max_entries: 4 });
    // key = 2 on the stack; v = lookup(&map, &key); if (v) *v += 1; return 0
    const insns = encode(
      link([
        st('u32', R10, -4, 2),
        mov(R2, R10),
        add(R2, -4),
        lddw(R1, map, Pseudo.BPF_PSEUDO_MAP_FD),
        call(1),
        jeq(R0, 0, 'out'),
        mov(R1, 1),
        atomic('add', 'u64', R0, 0, R1),
        label('out'),
        mov(R0, 0),
        exit(),
      ]),
    );
    const prog = load(k, insns);
    for (let i = 0; i < 5; i++) prog.run();
    const v = new Uint8Array(8);
    k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: map, key: le32(2), value: v });
    assert.deepEqual([...v], [5, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('a program inserts into a hash map with bpf_map_update_elem; E2BIG comes back as -7', () => {
    const k = new Kernel({ ncpus: 1 });
    const map = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_HASH, key_size: 4, value_size: 4, max_entries: 1 });
    // key = `key` on the stack at fp-4, value 99 at fp-8; return update(...) (a key from r1 would spill
    // part of the ctx pointer, which the kernel refuses: "invalid size of register spill")
    const update = (key: number) =>
      load(
        k,
        encode(
          link([
            st('u32', R10, -4, key),
            st('u32', R10, -8, 99),
            lddw(R1, map, Pseudo.BPF_PSEUDO_MAP_FD),
            mov(R2, R10),
            add(R2, -4),
            mov(R3, R10),
            add(R3, -8),
            mov(R4, 0),
            call(2),
            exit(),
          ]),
        ),
      );
    assert.equal(update(5).run({}), 0n);
    assert.equal(update(6).run({}), BigInt.asUintN(64, -7n));
    const v = new Uint8Array(4);
    assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: map, key: le32(5), value: v }), 0);
    assert.deepEqual([...v], [99, 0, 0, 0]);
  });

  it('a program writes ring buffer records that userspace consumes', () => {
    const k = new Kernel({ ncpus: 1 });
    const rb = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_RINGBUF, key_size: 0, value_size: 0, max_entries: 4096 });
    // p = reserve(&rb, 4, 0); if (p) { *(u32 *)p = r6; submit(p) }
    const insns = encode(
      link([
        mov(R6, R1),
        lddw(R1, rb, Pseudo.BPF_PSEUDO_MAP_FD),
        mov(R2, 4),
        mov(R3, 0),
        call(131),
        jeq(R0, 0, 'out'),
        stx('u32', R0, 0, R6),
        mov(R1, R0),
        mov(R2, 0),
        call(132),
        label('out'),
        mov(R0, 0),
        exit(),
      ]),
    );
    const prog = load(k, insns);
    prog.run({ r1: 0x11 });
    prog.run({ r1: 0x22 });
    const ring = k.process.mapOf(rb).map.map as RingBuf;
    assert.deepEqual(
      ring.consume().map((r) => r[0]),
      [0x11, 0x22],
    );
  });

  it('BPF_PSEUDO_MAP_VALUE loads the address of an array value plus the offset (global data)', () => {
    const k = new Kernel({ ncpus: 1 });
    const map = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 16, max_entries: 1 });
    k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: map, key: le32(0), value: Uint8Array.from({ length: 16 }, (_, i) => i) });
    const insns = encode(link([lddw(R1, (8n << 32n) | BigInt(map), Pseudo.BPF_PSEUDO_MAP_VALUE), ldx('u8', R0, R1, 0), exit()]));
    assert.equal(load(k, insns).run(), 8n);
  });
});
