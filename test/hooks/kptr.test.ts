import assert from 'node:assert/strict';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { kptrHelpers } from '../../hooks/helpers/kptr.js';
import { kptrFields, zeroSpecialFields } from '../../maps/specialFields.js';
import type { TypeDesc } from '../../maps/typeDesc.js';
import { MapType } from '../../uapi/mapType.js';
import { ProgType } from '../../uapi/progType.js';
import {
  type Item,
  R0,
  R1,
  R2,
  R3,
  R4,
  R6,
  R10,
  add,
  alu64,
  atomic,
  call,
  exit,
  jne,
  label,
  lddw,
  ldx,
  link,
  mov,
  st,
  stx,
} from '../../vm/dsl.js';
import { insn } from '../../vm/instruction.js';
import { AddressSpace } from '../../vm/memory.js';
import { Class, JmpOp, Pseudo } from '../../vm/opcodes.js';
import { kfuncByName } from '../../vm/verifier/kfuncs.js';
import type { MapInfo } from '../../vm/verifier/state.js';
import { verify } from '../../vm/verifier/verify.js';

/**
 * bpf_kptr_xchg and kptr fields (issue 18): hand-built programs against a map value
 * `struct { long n; struct task_struct __kptr *t; struct task_struct __kptr_untrusted *u; }`,
 * with the running kernel's messages (kernel/bpf/verifier.c: check_map_access,
 * check_map_kptr_access, process_kptr_func, map_kptr_match_type, check_func_arg).
 */
const KPTRS: MapInfo = {
  name: 'kptrs',
  type: MapType.BPF_MAP_TYPE_ARRAY,
  keySize: 4,
  valueSize: 24,
  maxEntries: 1,
  btf: true,
  array: true,
  kptrs: [
    { off: 8, tag: 'kptr', struct: 'task_struct' },
    { off: 16, tag: 'kptr_untrusted', struct: 'task_struct' },
  ],
};
const PLAIN: MapInfo = { ...KPTRS, name: 'plain', kptrs: undefined };
const P = ProgType.BPF_PROG_TYPE_XDP;

/** A kfunc call (BPF_PSEUDO_KFUNC_CALL with bpfbox's registry id). */
const kcall = (name: string): Item => ({
  kind: 'insn',
  insn: insn(Class.BPF_JMP | JmpOp.BPF_CALL, 0, Pseudo.BPF_PSEUDO_KFUNC_CALL, 0, kfuncByName(name)!.id),
});

/** lookup of key 0 of map fd `m` into r0, NULL-checked (r0 then the value). */
const lookup0 = (m = 0): Item[] => [
  st('u32', R10, -4, 0),
  mov(R2, R10),
  add(R2, -4),
  lddw(R1, m, Pseudo.BPF_PSEUDO_MAP_FD),
  call(1),
  jne(R0, 0, 'found'),
  exit(),
  label('found'),
];
/** r0 = bpf_kptr_xchg(value + off, r2), then release r0 when it is not NULL; returns 0. */
const xchgAndRelease = (off: number): Item[] => [
  mov(R1, R0),
  add(R1, off),
  call(194),
  jne(R0, 0, 'old'),
  exit(),
  label('old'),
  mov(R1, R0),
  kcall('bpf_task_release'),
  mov(R0, 0),
  exit(),
];
/** r6 = bpf_task_from_pid(1) (a referenced task or NULL), the value back in r0. */
const taskInR6 = (check: boolean): Item[] => [
  mov(R6, R0),
  mov(R1, 1),
  kcall('bpf_task_from_pid'),
  ...(check ? [jne(R0, 0, 'got'), exit(), label('got')] : []),
  mov(R2, R0),
  mov(R0, R6),
];

function verdict(items: Item[]): string {
  const v = verify(link(items), { progType: P, ops: verifierOpsOf(P), maps: [KPTRS, PLAIN], funcInfo: true });
  return v.ok ? 'accepted' : v.message;
}

describe('kptrs in map values and bpf_kptr_xchg (verifier)', () => {
  it('xchg NULL into a referenced kptr: the old pointer comes out referenced and must be released', () => {
    assert.equal(verdict([...lookup0(), mov(R2, 0), ...xchgAndRelease(8)]), 'accepted');
    // without the release the program ends holding it (check_reference_leak)
    assert.match(
      verdict([...lookup0(), mov(R1, R0), add(R1, 8), mov(R2, 0), call(194), mov(R0, 0), exit()]),
      /^BPF_EXIT instruction in main prog would lead to reference leak$/,
    );
  });
  it('xchg a referenced task in: it is released by the call, the old one is to release', () => {
    assert.equal(verdict([...lookup0(), ...taskInR6(true), ...xchgAndRelease(8)]), 'accepted');
    assert.equal(verdict([...lookup0(), ...taskInR6(false), ...xchgAndRelease(8)]), 'Possibly NULL pointer passed to helper arg2');
  });
  it("xchg's destination: exactly a referenced kptr field of a map value at a constant offset", () => {
    assert.equal(verdict([...lookup0(), mov(R2, 0), ...xchgAndRelease(16)]), "off=16 kptr isn't referenced kptr");
    assert.equal(verdict([...lookup0(), mov(R2, 0), ...xchgAndRelease(0)]), "off=0 doesn't point to kptr");
    assert.equal(verdict([...lookup0(1), mov(R2, 0), ...xchgAndRelease(8)]), 'R1 has no valid kptr');
    assert.equal(verdict([mov(R1, R10), add(R1, -8), mov(R2, 0), call(194), exit()]), 'R1 type=fp expected=map_value, ptr_');
    const varOff = [...lookup0(), ldx('u32', R1, R0, 0), alu64('and', R1, 8), add(R1, R0), mov(R2, 0), call(194), exit()];
    assert.equal(verdict(varOff), "R1 doesn't have constant offset. kptr has to be at the constant offset");
  });
  it("xchg's source: a referenced pointer, not one loaded from a kptr field", () => {
    const loaded = [...lookup0(), ldx('u64', R2, R0, 8), jne(R2, 0, 'some'), exit(), label('some'), ...xchgAndRelease(8)];
    assert.equal(verdict(loaded), 'R2 must be referenced when passed to release function');
    assert.equal(verdict([...lookup0(), mov(R2, 5), ...xchgAndRelease(8)]), 'R2 type=scalar expected=ptr_, trusted_ptr_, rcu_ptr_');
  });
  it('a load of a kptr field gives a pointer that may be NULL (rcu_ptr_ for a referenced task, untrusted_ptr_ otherwise)', () => {
    // task_struct.pid is at byte 1264 (the running kernel's BTF, vm/verifier/kernStructs.data.ts)
    const readPid = [...lookup0(), ldx('u64', R1, R0, 8), jne(R1, 0, 'some'), exit(), label('some'), ldx('u32', R0, R1, 1264), exit()];
    assert.equal(verdict(readPid), 'accepted');
    assert.equal(
      verdict([...lookup0(), ldx('u64', R1, R0, 8), ldx('u32', R0, R1, 1264), exit()]),
      "R1 invalid mem access 'rcu_ptr_or_null_'",
    );
    assert.equal(
      verdict([...lookup0(), ldx('u64', R1, R0, 16), ldx('u32', R0, R1, 0), exit()]),
      "R1 invalid mem access 'untrusted_ptr_or_null_'",
    );
  });
  it('loads and stores touch a kptr field only whole, directly, in BPF_MEM mode', () => {
    assert.equal(verdict([...lookup0(), ldx('u32', R0, R0, 8), exit()]), 'kptr access size must be BPF_DW');
    assert.equal(verdict([...lookup0(), ldx('u64', R0, R0, 12), mov(R0, 0), exit()]), 'kptr access misaligned expected=8 off=12');
    assert.equal(verdict([...lookup0(), mov(R1, 0), stx('u64', R0, 8, R1), mov(R0, 0), exit()]), 'store to referenced kptr disallowed');
    assert.equal(verdict([...lookup0(), st('u64', R0, 16, 0), mov(R0, 0), exit()]), 'accepted');
    assert.equal(verdict([...lookup0(), st('u64', R0, 16, 1), mov(R0, 0), exit()]), 'BPF_ST imm must be 0 when storing to kptr at off=16');
    assert.equal(
      verdict([...lookup0(), mov(R1, 5), stx('u64', R0, 16, R1), mov(R0, 0), exit()]),
      'invalid kptr access, R1 type=scalar expected=ptr_task_struct or untrusted_ptr_task_struct',
    );
    assert.equal(
      verdict([...lookup0(), mov(R1, 1), atomic('add', 'u64', R0, 8, R1), mov(R0, 0), exit()]),
      'kptr in map can only be accessed using BPF_MEM instruction mode',
    );
    // a helper reading the value over the field (bpf_map_update_elem's value argument)
    const update = [
      ...lookup0(),
      mov(R3, R0),
      lddw(R1, 0, Pseudo.BPF_PSEUDO_MAP_FD),
      mov(R2, R10),
      add(R2, -4),
      mov(R4, 0),
      call(2),
      mov(R0, 0),
      exit(),
    ];
    assert.equal(verdict(update), 'kptr cannot be accessed indirectly by helper');
  });
  it('a referenced task may be stored in a kptr_untrusted field (and is still to be released)', () => {
    const items = [...lookup0(), ...taskInR6(true), stx('u64', R0, 16, R2), mov(R1, R2), kcall('bpf_task_release'), mov(R0, 0), exit()];
    assert.equal(verdict(items), 'accepted');
  });
});

describe('kptrs in map values (BTF, userspace, runtime)', () => {
  const value: TypeDesc = {
    k: 'struct',
    size: 40,
    members: [
      { name: 'n', bitOffset: 0, type: { k: 'int', size: 8, signed: true } },
      { name: 't', bitOffset: 64, type: { k: 'raw', size: 8, kptr: { tag: 'kptr', struct: 'task_struct' } } },
      {
        name: 'inner',
        bitOffset: 128,
        type: { k: 'array', n: 2, elem: { k: 'raw', size: 8, kptr: { tag: 'kptr_untrusted', struct: 'cgroup' } } },
      },
      { name: 'p', bitOffset: 256, type: { k: 'raw', size: 8 } },
    ],
  };
  it('finds kptr fields in the value, in nested arrays too, and shows them to userspace as zeros', () => {
    assert.deepEqual(
      kptrFields(value).map((f) => [f.off, f.tag, f.struct]),
      [
        [8, 'kptr', 'task_struct'],
        [16, 'kptr_untrusted', 'cgroup'],
        [24, 'kptr_untrusted', 'cgroup'],
      ],
    );
    const bytes = zeroSpecialFields(value, new Uint8Array(40).fill(0xaa));
    assert.equal(Buffer.from(bytes).toString('hex'), 'aa'.repeat(8) + '00'.repeat(24) + 'aa'.repeat(8));
  });
  it('bpf_kptr_xchg swaps the 8 bytes and returns the old ones', () => {
    const memory = new AddressSpace();
    const at = memory.map(16, 3, 'test').start;
    memory.view.setBigUint64(at + 8, 0x1234n, true);
    const fn = kptrHelpers()[0].fn;
    assert.equal(fn(BigInt(at + 8), 0x5678n, 0n, 0n, 0n, { memory, pc: 0 }), 0x1234n);
    assert.equal(memory.view.getBigUint64(at + 8, true), 0x5678n);
    assert.equal(fn(BigInt(at + 8), 0n, 0n, 0n, 0n, { memory, pc: 0 }), 0x5678n);
    assert.equal(memory.view.getBigUint64(at + 8, true), 0n);
  });
});
