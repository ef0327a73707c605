import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { Kernel } from '../../kernel/kernel.js';
import { ProgType } from '../../uapi/progType.js';
import { assemble } from '../../vm/asm/assembler.js';
import { interpreter } from '../../vm/interpreter/interpreter.js';
import { jit } from '../../vm/jit/jit.js';
import { Pseudo } from '../../vm/opcodes.js';
import { kfuncByName } from '../../vm/verifier/kfuncs.js';
import { REPO_ROOT } from '../support/paths.js';
import { verdict } from '../support/verdict.js';

/**
 * kfuncs: `__ksym` externs resolved as libbpf does (bpf/kfuncs.c), their calls checked by the
 * verifier with the kernel's rules and messages (kernel/bpf/verifier.c's check_kfunc_call,
 * process_iter_arg, process_dynptr_func), and run. The expected return values are computed by
 * hand from the programs' C (test/differential/kfuncs.test.ts compares them with the kernel's).
 */
const OBJ = join(REPO_ROOT, 'bpf', 'kfuncs.o');
const id = (name: string) => kfuncByName(name)!.id;
const XDP = ProgType.BPF_PROG_TYPE_XDP;

describe('kfuncs', () => {
  it('turns extern __ksym calls into BPF_PSEUDO_KFUNC_CALL with the registry ids, a missing weak one into 0', () => {
    const spec = readCollection(readFileSync(OBJ), { name: 'kfuncs.o' });
    const calls = (name: string) => {
      const p = spec.programs.find((x) => x.name === name)!;
      const out: [number, number][] = [];
      for (let s = 0; s < p.insns.length / 8; s++) {
        const dv = new DataView(p.insns.buffer, p.insns.byteOffset + s * 8, 8);
        if (p.insns[s * 8] === 0x85) out.push([p.insns[s * 8 + 1] >> 4, dv.getInt32(4, true)]);
      }
      return out;
    };
    const K = Pseudo.BPF_PSEUDO_KFUNC_CALL;
    assert.deepEqual(calls('iter_sum'), [
      [K, id('bpf_iter_num_new')],
      [K, id('bpf_iter_num_next')],
      [K, id('bpf_iter_num_next')],
      [K, id('bpf_iter_num_destroy')],
    ]);
    assert.deepEqual(calls('dynptr_proto'), [
      [K, id('bpf_dynptr_from_xdp')],
      [K, id('bpf_dynptr_slice')],
    ]);
    assert.deepEqual(calls('weak_absent'), [[K, 0]]);
  });

  it('refuses an extern no kernel has that is not weak, naming it as libbpf does', () => {
    const bytes = readFileSync(OBJ);
    // rename the weak extern's symbol binding to global: find "bpf_kfunc_no_kernel_has" in .symtab by its STB_WEAK info byte
    const spec = () => readCollection(patchWeak(Uint8Array.from(bytes)), { name: 'kfuncs.o' });
    assert.throws(spec, /extern \(func ksym\) 'bpf_kfunc_no_kernel_has': not found in kernel or module BTFs/);
  });

  for (const engine of [interpreter, jit]) {
    it(`runs the iterator, dynptr and weak-extern programs (${engine.name})`, () => {
      const k = new Kernel({ ncpus: 1, runtime: { seed: 1, clock: () => 1n, engine } });
      const l = loadCollection(k.process, readCollection(readFileSync(OBJ), { name: 'kfuncs.o' }));
      const pkt = new Uint8Array(64);
      pkt.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x86, 0xdd]);
      const run = (name: string) => {
        const a = { prog_fd: l.programs.get(name)!, data_in: pkt, data_out: new Uint8Array(256), retval: 0, data_size_out: 0 };
        assert.equal(k.bpf('BPF_PROG_TEST_RUN', a), 0);
        return a.retval;
      };
      assert.equal(run('iter_sum'), 45); // 0 + 1 + … + 9
      assert.equal(run('dynptr_proto'), 0x86dd); // the EtherType, bytes 12-13
      assert.equal(run('weak_absent'), 7);
    });
  }

  for (const engine of [interpreter, jit]) {
    it(`runs the bits iterator, the task and conntrack lookups and the context cast (${engine.name})`, () => {
      const k = new Kernel({ ncpus: 1, runtime: { seed: 1, clock: () => 1n, engine } });
      const file = join(REPO_ROOT, 'test', 'fixtures', 'bpf', 'kfuncObjects.o');
      const spec = readCollection(readFileSync(file), { name: 'kfuncObjects.o' });
      // only the programs the kernel loads (the *_bad ones it refuses)
      const l = loadCollection(k.process, { ...spec, programs: spec.programs.filter((p) => !p.name.endsWith('_bad')) });
      const run = (name: string) => {
        const a = {
          prog_fd: l.programs.get(name)!,
          data_in: new Uint8Array(64),
          data_out: new Uint8Array(256),
          retval: 0,
          data_size_out: 0,
        };
        assert.equal(k.bpf('BPF_PROG_TEST_RUN', a), 0);
        return a.retval;
      };
      assert.equal(run('bits_count'), (5 << 16) | (0 + 4 + 63 + 64 + 66)); // bits 0, 4, 63 of word 0; 0, 2 of word 1
      assert.equal(run('bits_errors'), (22 << 16) | (22 << 8) | 7); // EINVAL (NULL), EINVAL (no words), E2BIG (512 words)
      assert.equal(run('task_none'), 3); // no task: NULL
      assert.equal(run('kern_ctx'), 2);
      assert.equal(run('ct_miss'), 2); // ENOENT: no connection tracked
      assert.equal(run('ct_errors'), (71 << 16) | (22 << 8) | 97); // EPROTO (ICMP), EINVAL (8-byte opts), EAFNOSUPPORT (20-byte tuple)
    });
  }

  describe('verifier', () => {
    const ITER = `r1 = r10
r1 += -8
r2 = 0
r3 = 3
call kernel-function#${id('bpf_iter_num_new')}`;
    const cases: [string, number, string, string][] = [
      ['a kfunc id that names nothing', XDP, `call kernel-function#5\nr0 = 0\nexit`, 'err 22 kernel btf_id 5 is not a function'],
      [
        'an XDP kfunc in a socket filter',
        ProgType.BPF_PROG_TYPE_SOCKET_FILTER,
        `r2 = 0\nr3 = r10\nr3 += -16\ncall kernel-function#${id('bpf_dynptr_from_xdp')}\nr0 = 0\nexit`,
        'err 13 calling kernel function bpf_dynptr_from_xdp is not allowed',
      ],
      [
        'an iterator never destroyed',
        XDP,
        `${ITER}\nr0 = 0\nexit`,
        'err 22 BPF_EXIT instruction in main prog would lead to reference leak',
      ],
      [
        'next on an iterator never made',
        XDP,
        `r1 = r10\nr1 += -8\ncall kernel-function#${id('bpf_iter_num_next')}\nr0 = 0\nexit`,
        'err 22 expected an initialized iter_num as arg #0',
      ],
      ['an iterator made twice', XDP, `${ITER}\n${ITER}\nr0 = 0\nexit`, 'err 22 expected uninitialized iter_num as arg #0'],
      [
        'a slice written through bpf_dynptr_slice (read-only)',
        XDP,
        `r2 = 0
r3 = r10
r3 += -16
call kernel-function#${id('bpf_dynptr_from_xdp')}
r1 = r10
r1 += -16
r2 = 0
r3 = 0
r4 = 4
call kernel-function#${id('bpf_dynptr_slice')}
if r0 == 0 goto +1
*(u8 *)(r0 + 0) = 1
r0 = 0
exit`,
        'err 13 R0 cannot write into rdonly_mem',
      ],
      [
        'a slice read past its size',
        XDP,
        `r2 = 0
r3 = r10
r3 += -16
call kernel-function#${id('bpf_dynptr_from_xdp')}
r1 = r10
r1 += -16
r2 = 0
r3 = 0
r4 = 4
call kernel-function#${id('bpf_dynptr_slice_rdwr')}
if r0 == 0 goto +1
r0 = *(u8 *)(r0 + 4)
r0 = 0
exit`,
        // (the kernel: "invalid access to memory, mem_size=4 off=4 size=1"; bpfbox's region check words it otherwise)
        'err 13',
      ],
      [
        'a dynptr never made',
        XDP,
        `r1 = r10\nr1 += -16\nr2 = 0\nr3 = 0\nr4 = 4\ncall kernel-function#${id('bpf_dynptr_slice')}\nr0 = 0\nexit`,
        'err 22 Expected an initialized dynptr as arg #0',
      ],
      [
        'an iterator loop, destroyed',
        XDP,
        `${ITER}
r6 = 0
r1 = r10
r1 += -8
call kernel-function#${id('bpf_iter_num_next')}
if r0 == 0 goto +2
r6 += 1
goto -6
r1 = r10
r1 += -8
call kernel-function#${id('bpf_iter_num_destroy')}
r0 = r6
exit`,
        'ok',
      ],
      ['a weak kfunc call never reached', XDP, `r0 = 0\nif r0 == 0 goto +1\ncall kernel-function#0\nexit`, 'ok'],
    ];
    for (const [what, type, text, want] of cases)
      it(`${what}: ${want}`, () => {
        const got = verdict(assemble(text), type);
        if (want === 'err 13') assert.match(got ?? '', /^err 13 /);
        else assert.equal(got, want);
      });
  });
});

/** patchWeak: the object with its one weak undefined symbol made global (as if `__weak` were left out). */
function patchWeak(b: Uint8Array): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shnum = dv.getUint16(0x3c, true);
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * 64;
    if (dv.getUint32(sh + 4, true) !== 2) continue; // SHT_SYMTAB
    const off = Number(dv.getBigUint64(sh + 0x18, true));
    const size = Number(dv.getBigUint64(sh + 0x20, true));
    for (let s = off; s < off + size; s += 24)
      if (b[s + 4] >> 4 === 2 && dv.getUint16(s + 6, true) === 0) b[s + 4] = (1 << 4) | (b[s + 4] & 0xf);
  }
  return b;
}
