import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProgType } from '../../uapi/progType.js';
import { readCollection } from '../../elf/collection.js';
import { ElfError } from '../../elf/elfError.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { Errno } from '../../uapi/errno.js';
import { Kernel } from '../../kernel/kernel.js';
import { MapFlag, MapType } from '../../uapi/mapType.js';
import { machineFor } from '../../maps/programSide.js';
import { decode } from '../../vm/decode.js';
import { disassemble } from '../../vm/disassembler.js';
import { interpreter } from '../../vm/interpreter/interpreter.js';
import { REPO_ROOT } from '../support/paths.js';

const obj = (name: string) => readFileSync(join(REPO_ROOT, 'bpf', `${name}.o`));
const read = (name: string, set?: Record<string, number>) => readCollection(obj(name), { name: `${name}.o`, set });
const le32 = (n: number) => Uint8Array.from([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]);

describe('ELF objects: what the C sources say', () => {
  it('xdp_simple: one ARRAY map of 256 u32 -> u64, one XDP program, GPL', () => {
    const c = read('xdp_simple');
    assert.deepEqual(
      c.maps.map((m) => [m.name, m.spec.type, m.spec.keySize, m.spec.valueSize, m.spec.maxEntries]),
      [['rxcnt', MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 256]],
    );
    assert.deepEqual(
      c.programs.map((p) => [p.name, p.type, p.section]),
      [['xdp_simple', ProgType.BPF_PROG_TYPE_XDP, 'xdp']],
    );
    assert.equal(c.license, 'GPL');
    const text = decode(c.programs[0].insns).map(disassemble);
    assert.ok(text.includes('call bpf_get_smp_processor_id#8') && text.includes('call bpf_map_lookup_elem#1'));
    assert.ok(text.includes('lock *(u64 *)(r0 +0) += r1'), 'the atomic add');
  });
  it('sock_proto: a socket filter using LD_ABS', () => {
    const c = read('sock_proto');
    assert.equal(c.programs[0].type, ProgType.BPF_PROG_TYPE_SOCKET_FILTER);
    assert.ok(
      decode(c.programs[0].insns).map(disassemble).includes('r0 = *(u8 *)skb[23]'),
      'ETH_HLEN + offsetof(struct iphdr, protocol) = 14 + 9',
    );
  });
  it('calls: the callees from .text are appended once each, calls point at them', () => {
    const c = read('calls');
    const text = decode(c.programs[0].insns).map(disassemble);
    assert.equal(text.length, 21); // 12 of xdp_calls, 6 of sum_squares, 3 of square
    assert.deepEqual(
      text.filter((t) => t.startsWith('call pc')),
      ['call pc+7', 'call pc+5', 'call pc+2'],
    );
  });
  it('tail_calls: three programs and a prog array whose slots name them', () => {
    const c = read('tail_calls');
    assert.deepEqual(c.programs.map((p) => p.name).sort(), ['xdp_dispatch', 'xdp_drop_all', 'xdp_pass_all']);
    assert.deepEqual(
      [...c.maps[0].slots],
      [
        [0, 'xdp_drop_all'],
        [1, 'xdp_pass_all'],
      ],
    );
  });
  it('map_in_map: the outer map has an inner template and two initial inner maps', () => {
    const c = read('map_in_map');
    const outer = c.maps.find((m) => m.name === 'outer')!;
    assert.equal(outer.spec.type, MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS);
    assert.deepEqual(outer.inner?.spec.type, MapType.BPF_MAP_TYPE_ARRAY);
    assert.deepEqual(
      [...outer.slots],
      [
        [0, 'inner0'],
        [1, 'inner1'],
      ],
    );
  });
  it('lpm_firewall: an LPM trie with BPF_F_NO_PREALLOC and an 8-byte key', () => {
    const m = read('lpm_firewall').maps.find((x) => x.name === 'blocked')!;
    assert.deepEqual(
      [m.spec.type, m.spec.keySize, m.spec.valueSize, m.spec.maxEntries, m.spec.flags],
      [MapType.BPF_MAP_TYPE_LPM_TRIE, 8, 4, 1024, MapFlag.BPF_F_NO_PREALLOC],
    );
  });
  it('legacy_maps: a struct bpf_map_def section and a socket1 section', () => {
    const c = read('legacy_maps');
    assert.deepEqual(
      c.maps.map((m) => [m.name, m.spec.type, m.spec.keySize, m.spec.valueSize, m.spec.maxEntries]),
      [['legacy_counts', MapType.BPF_MAP_TYPE_HASH, 4, 8, 64]],
    );
    assert.equal(c.programs[0].type, ProgType.BPF_PROG_TYPE_SOCKET_FILTER);
  });
  it('ringbuf: a ring buffer of 4096 bytes', () => {
    assert.deepEqual(
      read('ringbuf').maps.map((m) => [m.spec.type, m.spec.keySize, m.spec.valueSize, m.spec.maxEntries]),
      [[MapType.BPF_MAP_TYPE_RINGBUF, 0, 0, 4096]],
    );
  });
});

describe('global data', () => {
  it('.data, .rodata and .bss become internal maps named and flagged as libbpf does', () => {
    const c = read('global_data');
    const internal = c.maps.filter((m) => m.internal).map((m) => [m.name, m.spec.valueSize, m.spec.flags]);
    // sizes from the C source: .rodata = num2 + knob + struct1 = 8 + 8 + 16; .data = num1 + struct0 + greeting = 8 + 16 + 16
    assert.deepEqual(internal.sort(), [
      ['global_d.bss', 8, 0x400],
      ['global_d.data', 40, 0x400],
      ['global_d.rodata', 32, 0x480],
    ]);
  });
  it('a program reads them all; .rodata is frozen; --set changes a const volatile knob', () => {
    const c = read('global_data', { knob: 99 });
    const k = new Kernel({ ncpus: 1 });
    const l = loadCollection(k.process, c);
    const prog = k.process.progOf(l.programs.get('load_static_data')!);
    const run = interpreter.prepare(prog.program, machineFor(k.memory, prog));
    run.run();
    run.run(); // num0 counts runs: the second sees 1
    const get = (map: string, key: number, size: number) => {
      const v = new Uint8Array(size);
      assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: l.maps.get(map)!, key: le32(key), value: v }), 0);
      return v;
    };
    const u64 = (v: Uint8Array, off = 0) => new DataView(v.buffer).getBigUint64(off, true);
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((i) => u64(get('result_number', i, 8))),
      [1n, 42n, 24n, 99n, BigInt('h'.charCodeAt(0))],
    );
    const s0 = get('result_struct', 0, 16);
    assert.deepEqual([s0[0], new DataView(s0.buffer).getUint32(4, true), u64(s0, 8)], [42, 0xfefeefef, 0x1111111111111111n]);
    const s1 = get('result_struct', 1, 16);
    assert.deepEqual([s1[0], new DataView(s1.buffer).getUint32(4, true), u64(s1, 8)], [41, 0xeeeeefef, 0x2222222222222222n]);
    assert.equal(
      k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: l.maps.get('global_d.rodata')!, key: le32(0), value: new Uint8Array(32) }),
      -Errno.EPERM,
      '.rodata is frozen',
    );
  });
  it('a knob that does not exist or does not fit is an error', () => {
    assert.throws(() => read('global_data', { no_such_knob: 1 }), /set no_such_knob: no global variable of that name/);
    assert.throws(
      () => read('global_data', { knob: -1 }),
      (e: unknown) => e instanceof ElfError && /does not fit 8 bytes/.test(e.message),
    );
  });
});

describe('loading through the bpf() door', () => {
  it('every corpus object loads; prog arrays and maps of maps get their initial slots', () => {
    for (const name of [
      'xdp_simple',
      'sock_proto',
      'global_data',
      'calls',
      'tail_calls',
      'legacy_maps',
      'lpm_firewall',
      'ringbuf',
      'map_in_map',
    ]) {
      const k = new Kernel({ ncpus: 2 });
      const l = loadCollection(k.process, read(name));
      assert.ok(l.programs.size >= 1, name);
      l.close();
    }
    const k = new Kernel();
    const l = loadCollection(k.process, read('tail_calls'));
    const v = new Uint8Array(4);
    assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: l.maps.get('jmp_table')!, key: le32(1), value: v }), 0);
    assert.equal(new DataView(v.buffer).getUint32(0, true), k.process.progOf(l.programs.get('xdp_pass_all')!).id);
  });
  it('a failure releases everything created so far', () => {
    const k = new Kernel();
    const c = read('xdp_simple');
    const bad = { ...c, programs: c.programs.map((p) => ({ ...p, type: 999 })) };
    assert.throws(() => loadCollection(k.process, bad), /load program xdp_simple: EINVAL/);
    assert.equal(k.maps.size, 0);
    assert.equal(k.progs.size, 0);
  });
  it('a pin-by-name map reuses a compatible pin and refuses a different one', () => {
    const k = new Kernel();
    const c = read('xdp_simple');
    const pinned = { ...c, maps: c.maps.map((m) => ({ ...m, pinning: 1 })) };
    const a = loadCollection(k.process, pinned);
    const b = loadCollection(k.process, pinned);
    assert.equal(k.process.mapOf(a.maps.get('rxcnt')!).map, k.process.mapOf(b.maps.get('rxcnt')!).map);
    const other = { ...pinned, maps: pinned.maps.map((m) => ({ ...m, spec: { ...m.spec, maxEntries: 9 } })) };
    assert.throws(() => loadCollection(k.process, other), /pinned map at \/sys\/fs\/bpf\/rxcnt differs in maxEntries: 256 != 9/);
  });
});

describe('CO-RE relocations', () => {
  it("core_ctx: field offsets relocated against the object's own types keep their values", () => {
    const c = read('core_ctx');
    const relos = c.btfExt!.core.get('xdp')!;
    assert.deepEqual(
      relos.map((r) => [r.insnOff, r.access, r.kind]),
      [
        [0, '0:0', 0],
        [8, '0:1', 0],
      ],
    );
    const text = decode(c.programs[0].insns).map(disassemble);
    assert.deepEqual(text.slice(0, 2), ['r2 = *(u32 *)(r1 +0)', 'r1 = *(u32 *)(r1 +4)'], 'data and data_end of struct xdp_md___local');
  });
  it('a relocation whose access path leaves its type is an error naming it', () => {
    const bytes = Uint8Array.from(obj('core_ctx'));
    // the access strings "0:0" and "0:1" live in the BTF string table: make one "0:9"
    const at = Buffer.from(bytes).indexOf(Buffer.from('0:1\0'));
    assert.ok(at > 0);
    bytes[at + 2] = '9'.charCodeAt(0);
    assert.throws(
      () => readCollection(bytes, { name: 'core_ctx.o' }),
      /section xdp: CO-RE relocation at insn 1 \(type 8, access 0:9, kind 0\): access path leaves the type/,
    );
  });
});
