import assert from 'node:assert/strict';
import { testRun } from '../../hooks/testRun.js';
import { ProgType } from '../../uapi/progType.js';
import { Kernel } from '../../kernel/kernel.js';
import { MapFlag, MapType } from '../../uapi/mapType.js';
import type { ProgObject } from '../../kernel/objects.js';
import { encode } from '../../vm/decode.js';
import type { Engine } from '../../vm/engine.js';
import { insn } from '../../vm/instruction.js';
import { interpreter } from '../../vm/interpreter/interpreter.js';
import { jit } from '../../vm/jit/jit.js';

/**
 * The JIT walks LPM tries of up to 32-bit keys inline (compile.ts, inlineLpmLookup). An XDP
 * program looks up the key in the packet's first 8 bytes and returns the value (0xffff: no
 * match); the answers must be a brute-force longest-prefix scan's, under both engines.
 */
function program(mapFd: number): Uint8Array {
  return encode([
    insn(0x61, 2, 1, 0, 0), // r2 = ctx->data
    insn(0x61, 3, 1, 4, 0), // r3 = ctx->data_end
    insn(0xbf, 4, 2, 0, 0),
    insn(0x07, 4, 0, 0, 8),
    insn(0x2d, 4, 3, 12, 0), // if r4 > r3 goto miss
    insn(0x61, 5, 2, 0, 0),
    insn(0x63, 10, 5, -8, 0), // the prefix length
    insn(0x61, 5, 2, 4, 0),
    insn(0x63, 10, 5, -4, 0), // the data
    insn(0x18, 1, 1, 0, mapFd), // lddw: two slots
    insn(0xbf, 2, 10, 0, 0),
    insn(0x07, 2, 0, 0, -8),
    insn(0x85, 0, 0, 0, 1), // bpf_map_lookup_elem
    insn(0x15, 0, 0, 2, 0), // if r0 == 0 goto miss
    insn(0x61, 0, 0, 0, 0),
    insn(0x95, 0, 0, 0, 0),
    insn(0xb7, 0, 0, 0, 0xffff), // miss:
    insn(0x95, 0, 0, 0, 0),
  ]);
}

describe('JIT: LPM trie lookups walked inline', function () {
  this.timeout(60_000);
  for (const dataSize of [4, 3, 1]) {
    it(`${dataSize}-byte keys: the longest prefix a brute-force scan finds, as the interpreter does`, () => {
      let seed = 11 + dataSize;
      const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
      const bits = 8 * dataSize;
      const mask = (plen: number) => (plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0);
      // prefixes from a few roots, so the trie has depth and intermediate nodes
      const roots = [0x0a000000, 0xc0a80000, 0xac100000, 0];
      const entries: { plen: number; word: number; value: number }[] = [];
      for (let i = 0; i < 250; i++) {
        const plen = rand(bits + 1);
        const word = ((roots[rand(4)] | (rand(1 << 16) << 8) | rand(256)) & mask(plen) & mask(bits)) >>> 0;
        if (!entries.some((e) => e.plen === plen && e.word === word)) entries.push({ plen, word, value: i + 1 });
      }
      const keyBytes = (plen: number, word: number) =>
        Uint8Array.from([plen, 0, 0, 0, word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff].slice(0, 4 + dataSize));
      const best = (plen: number, word: number) => {
        let hit: { plen: number; value: number } | undefined;
        for (const e of entries) if (e.plen <= plen && ((word ^ e.word) & mask(e.plen)) === 0 && (!hit || e.plen > hit.plen)) hit = e;
        return hit ? hit.value : 0xffff;
      };
      const lookups = Array.from({ length: 3000 }, () => {
        const e = entries[rand(entries.length)];
        const plen = rand(3) ? bits : rand(bits + 1);
        // near an entry (some bits flipped past its prefix), or anywhere
        const word = ((rand(2) ? e.word ^ (rand(1 << 12) << rand(20)) : (rand(1 << 16) << 16) | rand(1 << 16)) & mask(bits)) >>> 0;
        return { plen, word };
      });
      const side = (engine: Engine) => {
        const k = new Kernel({ ncpus: 1, runtime: { engine } });
        const map = k.bpf('BPF_MAP_CREATE', {
          map_type: MapType.BPF_MAP_TYPE_LPM_TRIE,
          key_size: 4 + dataSize,
          value_size: 4,
          max_entries: 300,
          map_flags: MapFlag.BPF_F_NO_PREALLOC,
        });
        for (const e of entries)
          assert.equal(
            k.bpf('BPF_MAP_UPDATE_ELEM', {
              map_fd: map,
              key: keyBytes(e.plen, e.word),
              value: Uint8Array.from([e.value & 0xff, e.value >> 8, 0, 0]),
              flags: 0,
            }),
            0,
          );
        const fd = k.bpf('BPF_PROG_LOAD', { prog_type: ProgType.BPF_PROG_TYPE_XDP, insns: program(map), license: 'GPL' });
        assert.ok(fd > 0, `load: ${fd}`);
        const p = k.process.fds.get(fd)!.obj as ProgObject;
        const pkt = new Uint8Array(60);
        return lookups.map(({ plen, word }) => {
          pkt.set([plen, 0, 0, 0, word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff]);
          // the data past the key width is the packet's (ignored by a narrower trie)
          return testRun(k.runtime(0), p, { data: pkt }).retval;
        });
      };
      const want = lookups.map(({ plen, word }) => best(plen, word));
      assert.ok(want.filter((v) => v !== 0xffff).length > 1000, 'most lookups hit something');
      assert.deepEqual(side(interpreter), want, 'interpreter');
      assert.deepEqual(side(jit), want, 'jit');
    });
  }
});

/**
 * Lookups in maps known only at run time (a map of maps' inner arrays) are inlined from the
 * descriptor (compile.ts, inlineDynamicLookup). The program takes an outer index and an inner
 * index from the packet and returns the inner value (0xffff: an empty slot or out of range).
 */
describe('JIT: lookups in maps of maps and their inner arrays, inline', () => {
  it('every outer and inner index, present, empty and out of range: the values put there, as the interpreter does', () => {
    const side = (engine: Engine) => {
      const k = new Kernel({ ncpus: 1, runtime: { engine } });
      const array = () => k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 5 });
      const inner = [array(), array(), array()];
      const outer = k.bpf('BPF_MAP_CREATE', {
        map_type: MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS,
        key_size: 4,
        value_size: 4,
        max_entries: 4,
        inner_map_fd: inner[0],
      });
      inner.forEach((m, n) => {
        for (let j = 0; j < 5; j++)
          assert.equal(
            k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: m, key: Uint8Array.of(j, 0, 0, 0), value: Uint8Array.of(n, j, 1, 0), flags: 0 }),
            0,
          );
      });
      // slots 0, 1 and 3 hold inner maps 0, 1, 2; slot 2 is empty
      [
        [0, 0],
        [1, 1],
        [3, 2],
      ].forEach(([slot, n]) =>
        assert.equal(
          k.bpf('BPF_MAP_UPDATE_ELEM', {
            map_fd: outer,
            key: Uint8Array.of(slot, 0, 0, 0),
            value: Uint8Array.of(inner[n], 0, 0, 0),
            flags: 0,
          }),
          0,
        ),
      );
      const prog = encode([
        insn(0x61, 2, 1, 0, 0),
        insn(0x61, 3, 1, 4, 0),
        insn(0xbf, 4, 2, 0, 0),
        insn(0x07, 4, 0, 0, 8),
        insn(0x2d, 4, 3, 17, 0), // short: miss
        insn(0x61, 5, 2, 0, 0),
        insn(0x63, 10, 5, -8, 0), // outer index
        insn(0x61, 5, 2, 4, 0),
        insn(0x63, 10, 5, -4, 0), // inner index
        insn(0x18, 1, 1, 0, outer), // lddw: two slots
        insn(0xbf, 2, 10, 0, 0),
        insn(0x07, 2, 0, 0, -8),
        insn(0x85, 0, 0, 0, 1),
        insn(0x15, 0, 0, 7, 0), // no inner map: miss
        insn(0xbf, 1, 0, 0, 0),
        insn(0xbf, 2, 10, 0, 0),
        insn(0x07, 2, 0, 0, -4),
        insn(0x85, 0, 0, 0, 1),
        insn(0x15, 0, 0, 2, 0),
        insn(0x61, 0, 0, 0, 0),
        insn(0x95, 0, 0, 0, 0),
        insn(0xb7, 0, 0, 0, 0xffff),
        insn(0x95, 0, 0, 0, 0),
      ]);
      const fd = k.bpf('BPF_PROG_LOAD', { prog_type: ProgType.BPF_PROG_TYPE_XDP, insns: prog, license: 'GPL' });
      assert.ok(fd > 0, `load: ${fd}`);
      const p = k.process.fds.get(fd)!.obj as ProgObject;
      const out: number[] = [];
      const pkt = new Uint8Array(60);
      for (let o = 0; o < 6; o++)
        for (let j = 0; j < 7; j++) {
          pkt.set([o, 0, 0, 0, j, 0, 0, 0]);
          out.push(testRun(k.runtime(0), p, { data: pkt }).retval);
        }
      return out;
    };
    // by hand: slot o holds inner map n (0->0, 1->1, 3->2), whose value j is n | j << 8 | 1 << 16
    const want: number[] = [];
    for (let o = 0; o < 6; o++)
      for (let j = 0; j < 7; j++) {
        const n = ({ 0: 0, 1: 1, 3: 2 } as Record<number, number>)[o];
        want.push(n === undefined || j >= 5 ? 0xffff : n | (j << 8) | (1 << 16));
      }
    assert.deepEqual(side(interpreter), want, 'interpreter');
    assert.deepEqual(side(jit), want, 'jit');
  });
});

/**
 * Tail calls between compiled programs resolve in WebAssembly (compile.ts, inlineTailCall) and
 * must keep the kernel's limit: a program that counts its runs in an array and tail-calls
 * itself runs 1 + 33 times; an index past the prog array and an empty slot fall through.
 */
describe('JIT: tail calls resolved in WebAssembly', () => {
  it('a program that tail-calls itself runs 34 times (MAX_TAIL_CALL_CNT 33), and failed tail calls go on, as in the interpreter', () => {
    const side = (engine: Engine, index: number) => {
      const k = new Kernel({ ncpus: 1, runtime: { engine } });
      const counter = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 8, max_entries: 1 });
      const progs = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_PROG_ARRAY, key_size: 4, value_size: 4, max_entries: 4 });
      const prog = encode([
        insn(0xbf, 6, 1, 0, 0), // r6 = ctx
        insn(0x62, 10, 0, -4, 0), // *(u32 *)(r10 - 4) = 0
        insn(0x18, 1, 1, 0, counter),
        insn(0xbf, 2, 10, 0, 0),
        insn(0x07, 2, 0, 0, -4),
        insn(0x85, 0, 0, 0, 1),
        insn(0x15, 0, 0, 3, 0), // no value: skip the count
        insn(0x79, 1, 0, 0, 0),
        insn(0x07, 1, 0, 0, 1),
        insn(0x7b, 0, 1, 0, 0), // (*value)++
        insn(0xbf, 1, 6, 0, 0),
        insn(0x18, 2, 1, 0, progs),
        insn(0xb7, 3, 0, 0, index),
        insn(0x85, 0, 0, 0, 12), // bpf_tail_call(ctx, progs, index)
        insn(0xb7, 0, 0, 0, 2),
        insn(0x95, 0, 0, 0, 0),
      ]);
      const fd = k.bpf('BPF_PROG_LOAD', { prog_type: ProgType.BPF_PROG_TYPE_XDP, insns: prog, license: 'GPL' });
      assert.ok(fd > 0, `load: ${fd}`);
      // slot 0: the program itself; slot 1 stays empty
      assert.equal(
        k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: progs, key: Uint8Array.of(0, 0, 0, 0), value: Uint8Array.of(fd, 0, 0, 0), flags: 0 }),
        0,
      );
      const p = k.process.fds.get(fd)!.obj as ProgObject;
      const runs: number[] = [];
      for (let n = 0; n < 3; n++) {
        const before = k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: counter, key: Uint8Array.of(0, 0, 0, 0), value: new Uint8Array(8) });
        assert.equal(before, 0);
        const r = testRun(k.runtime(0), p, { data: new Uint8Array(60) });
        const v = new Uint8Array(8);
        k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: counter, key: Uint8Array.of(0, 0, 0, 0), value: v });
        runs.push(r.retval, Number(Buffer.from(v).readBigUInt64LE()));
      }
      return runs;
    };
    // index 0: 34 runs each test run (the counter goes 34, 68, 102), r0 2 from the last; 1 (empty) and 9 (out of range): one run each
    assert.deepEqual(side(interpreter, 0), [2, 34, 2, 68, 2, 102]);
    assert.deepEqual(side(jit, 0), [2, 34, 2, 68, 2, 102]);
    for (const index of [1, 9]) {
      assert.deepEqual(side(interpreter, index), [2, 1, 2, 2, 2, 3]);
      assert.deepEqual(side(jit, index), [2, 1, 2, 2, 2, 3]);
    }
  });
});
