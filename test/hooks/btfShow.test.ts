import assert from 'node:assert/strict';
import { Kind } from '../../uapi/btf.js';
import { BTF_F, type ShowBtf, type ShowType, btfShow } from '../../hooks/helpers/btfShow.js';
import { PERCPU_UNIT } from '../../hooks/helpers/btfPrint.js';
import { Kernel } from '../../kernel/kernel.js';
import { ProgType } from '../../uapi/progType.js';
import { Errno } from '../../uapi/errno.js';
import { encode } from '../../vm/decode.js';
import { type Item, R0, R1, R2, R3, R4, R5, R10, add, call, exit, ldx, link, lddw, mov, st, stx } from '../../vm/dsl.js';

const t = (x: Partial<ShowType> & { kind: number }): ShowType => ({ name: '', size: 0, type: 0, members: [], ...x });

/**
 * A hand-made type table: struct foo { int a; u8 b:3; unsigned char c[4]; enum color e; int *p; struct inner in; int z; },
 * with u8 a typedef of unsigned char, at the offsets a C compiler gives them (bits).
 */
const BTF: ShowBtf = {
  types: [
    t({ kind: Kind.UNKN, name: 'void' }),
    t({ kind: Kind.INT, name: 'int', size: 4, intBits: 32, signed: true }), // 1
    t({ kind: Kind.INT, name: 'unsigned char', size: 1, intBits: 8 }), // 2
    t({ kind: Kind.ARRAY, elem: 2, nelems: 4 }), // 3
    t({
      kind: Kind.ENUM,
      name: 'color',
      size: 4,
      members: [
        { name: 'RED', type: 0, offset: 0 },
        { name: 'GREEN', type: 0, offset: 1 },
      ],
    }), // 4
    t({ kind: Kind.PTR, type: 1 }), // 5
    t({ kind: Kind.TYPEDEF, name: 'u8', type: 2 }), // 6
    t({ kind: Kind.STRUCT, name: 'inner', size: 4, members: [{ name: 'x', type: 1, offset: 0 }] }), // 7
    t({
      kind: Kind.STRUCT,
      name: 'foo',
      size: 32,
      kflag: true,
      members: [
        { name: 'a', type: 1, offset: 0 },
        { name: 'b', type: 6, offset: 32, bitSize: 3 },
        { name: 'c', type: 3, offset: 40 },
        { name: 'e', type: 4, offset: 96 },
        { name: 'p', type: 5, offset: 128 },
        { name: 'in', type: 7, offset: 192 },
        { name: 'z', type: 1, offset: 224 },
      ],
    }), // 8
  ],
};

/** foo at 64: a = -1, b = 5 (the byte's other bits set: not b's), c = "hi", e = GREEN, p = 0x1000, in.x = 0, z = 0. */
function memory(): Uint8Array {
  const mem = new Uint8Array(256);
  const dv = new DataView(mem.buffer);
  dv.setInt32(64, -1, true);
  mem[68] = 0b1111_1101;
  mem.set([0x68, 0x69, 0, 0], 69);
  dv.setInt32(76, 1, true);
  dv.setBigUint64(80, 0x1000n, true);
  return mem;
}
const show = (flags: number, mem = memory()) => btfShow(BTF, 8, mem, 64, { flags, hashPointer: () => 0xdead_beef_1234_5678n });

describe('btfShow (the kernel btf_show format, by hand)', () => {
  it('default: one member a line, indented by depth; zero members and an all-zero nested struct left out; pointers hashed', () => {
    assert.equal(
      show(0),
      '(struct foo){\n' +
        ' .a = (int)-1,\n' +
        ' .b = (u8)0x5,\n' +
        " .c = (unsigned char[])[\n  'h',\n  'i',\n ],\n" +
        ' .e = (enum color)GREEN,\n' +
        ' .p = (int *)0x0000000012345678,\n' +
        '}\n',
    );
  });
  it('BTF_F_COMPACT | BTF_F_PTR_RAW: one line, the raw pointer in 16 digits', () => {
    assert.equal(
      show(BTF_F.COMPACT | BTF_F.PTR_RAW),
      "(struct foo){.a = (int)-1,.b = (u8)0x5,.c = (unsigned char[])['h','i',],.e = (enum color)GREEN,.p = (int *)0x0000000000001000,}",
    );
  });
  it('all flags: no names, zero members shown (the nested struct too), a char array still stops at its NUL', () => {
    assert.equal(show(BTF_F.COMPACT | BTF_F.NONAME | BTF_F.PTR_RAW | BTF_F.ZERO), "{-1,0x5,['h','i',],GREEN,0x0000000000001000,{0,},0,}");
  });
  it('a non-zero nested member brings its struct back; NULL prints as itself under %p; an unnamed enum value by number', () => {
    const mem = memory();
    mem[88] = 7; // in.x
    mem.fill(0, 80, 88); // p = NULL
    mem[76] = 9; // e: no such enumerator
    assert.equal(
      show(BTF_F.COMPACT | BTF_F.ZERO, mem),
      "(struct foo){.a = (int)-1,.b = (u8)0x5,.c = (unsigned char[])['h','i',],.e = (enum color)9,.p = (int *)0x0000000000000000,.in = (struct inner){.x = (int)7,},.z = (int)0,}",
    );
  });
  it('a value at the top is shown even when zero (and ends its line)', () => {
    assert.equal(btfShow(BTF, 1, new Uint8Array(8), 0, { flags: 0, hashPointer: (p) => p }), '(int)0\n');
  });
});

describe('bpf_snprintf_btf, bpf_per_cpu_ptr, bpf_this_cpu_ptr (helpers)', () => {
  /** The program: int 42 at fp-8, struct btf_ptr at fp-24 (ptr, type_id, flags), the text at fp-48. */
  const prog = (opts: { size: number; typeId: number; ptrSize: number; flags: number }, tail: Item[]): Item[] => [
    st('u64', R10, -8, 42),
    mov(R1, R10),
    add(R1, -8),
    stx('u64', R10, -24, R1),
    st('u32', R10, -16, opts.typeId),
    st('u32', R10, -12, 0),
    st('u64', R10, -48, 0),
    st('u64', R10, -40, 0),
    mov(R1, R10),
    add(R1, -48),
    mov(R2, opts.size),
    mov(R3, R10),
    add(R3, -24),
    mov(R4, opts.ptrSize),
    lddw(R5, BigInt(opts.flags)),
    call(149),
    ...tail,
  ];
  function runIt(items: Item[], btf: ShowBtf | undefined): number {
    const k = new Kernel({ ncpus: 2 });
    const log = new Uint8Array(1 << 16);
    const fd = k.bpf('BPF_PROG_LOAD', {
      prog_type: ProgType.BPF_PROG_TYPE_XDP,
      insns: encode(link(items)),
      license: 'GPL',
      log_level: 1,
      log_buf: log,
      log_size: log.length,
      ...(btf ? { prog_btf: btf } : {}),
    });
    assert.ok(fd > 0, new TextDecoder().decode(log.subarray(0, log.indexOf(0))));
    const a = { prog_fd: fd, data_in: new Uint8Array(60), retval: 0 };
    assert.equal(k.bpf('BPF_PROG_TEST_RUN', a), 0);
    return a.retval;
  }
  const word = (s: string) => new DataView(new TextEncoder().encode(s).buffer).getUint32(0, true);
  const ok = { size: 16, typeId: 1, ptrSize: 16, flags: 0 };

  it('writes "(int)42\\n" and its NUL, returns 8 (the length without the NUL)', () => {
    assert.equal(runIt(prog(ok, [exit()]), BTF), 8);
    assert.equal(runIt(prog(ok, [ldx('u32', R0, R10, -48), exit()]), BTF), word('(int'));
    assert.equal(runIt(prog(ok, [ldx('u32', R0, R10, -44), exit()]), BTF), word(')42\n'));
    assert.equal(runIt(prog(ok, [ldx('u8', R0, R10, -40), exit()]), BTF), 0, 'the NUL');
  });
  it('cuts the text to str_size - 1 and a NUL, and still returns the whole length', () => {
    const cut = { ...ok, size: 4 };
    assert.equal(runIt(prog(cut, [exit()]), BTF), 8);
    assert.equal(runIt(prog(cut, [ldx('u32', R0, R10, -48), exit()]), BTF), word('(in\0'));
  });
  it('-EINVAL for a flag beyond BTF_F_ALL, type id 0, btf_ptr_size other than 16, no BTF; -ENOENT for an id no type has', () => {
    const einval = -Errno.EINVAL >>> 0;
    assert.equal(runIt(prog({ ...ok, flags: 16 }, [exit()]), BTF), einval);
    assert.equal(runIt(prog({ ...ok, typeId: 0 }, [exit()]), BTF), einval);
    assert.equal(runIt(prog({ ...ok, ptrSize: 8 }, [exit()]), BTF), einval);
    assert.equal(runIt(prog(ok, [exit()]), undefined), einval);
    assert.equal(runIt(prog({ ...ok, typeId: 99 }, [exit()]), BTF), -Errno.ENOENT >>> 0);
  });
  it('per_cpu_ptr and this_cpu_ptr take a percpu pointer: a scalar is refused as the kernel refuses it', () => {
    const k = new Kernel();
    const log = new Uint8Array(1 << 16);
    for (const items of [
      [mov(R1, 0), mov(R2, 0), call(153), exit()],
      [mov(R1, R10), add(R1, -8), call(154), exit()],
    ]) {
      const fd = k.bpf('BPF_PROG_LOAD', {
        prog_type: ProgType.BPF_PROG_TYPE_XDP,
        insns: encode(link(items)),
        license: 'GPL',
        log_level: 1,
        log_buf: log,
        log_size: log.length,
      });
      assert.equal(fd, -Errno.EACCES);
      assert.match(new TextDecoder().decode(log.subarray(0, log.indexOf(0))), /R1 type=(scalar|fp) expected=percpu_ptr_/);
    }
  });
  it("per_cpu_ptr gives CPU n's copy (NULL past nr_cpu_ids), this_cpu_ptr the running CPU's, PERCPU_UNIT apart", () => {
    const k = new Kernel({ ncpus: 2 });
    const base = 0x10000n;
    const perCpu = k.runtime(0).helpers.get(153)!.fn;
    const env = { memory: k.memory, pc: 0 };
    assert.equal(perCpu(base, 0n, 0n, 0n, 0n, env), base);
    assert.equal(perCpu(base, 1n, 0n, 0n, 0n, env), base + BigInt(PERCPU_UNIT));
    assert.equal(perCpu(base, 2n, 0n, 0n, 0n, env), 0n);
    assert.equal(k.runtime(1).helpers.get(154)!.fn(base, 0n, 0n, 0n, 0n, env), base + BigInt(PERCPU_UNIT));
    assert.equal(k.runtime(0).helpers.get(154)!.fn(base, 0n, 0n, 0n, 0n, env), base);
  });
});
