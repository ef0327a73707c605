import assert from 'node:assert/strict';
import { verifierOpsOf } from '../../hooks/progTypes/verifierOpsOf.js';
import { MapType } from '../../uapi/mapType.js';
import { ProgType } from '../../uapi/progType.js';
import { R0, R1, R10, add, callLocal, exit, jeq, label, lddw, ldx, link, mov, st } from '../../vm/dsl.js';
import type { Instruction } from '../../vm/instruction.js';
import type { GlobalArg, GlobalFunc } from '../../vm/verifier/globalFunc.js';
import type { MapInfo } from '../../vm/verifier/state.js';
import { verify } from '../../vm/verifier/verify.js';

/**
 * Global functions (issue 18, the last unsafe accept: verifier_global_subprogs.c
 * arg_tag_nullable_ptr_fail). The kernel checks a global function once, from the types its BTF
 * gives its arguments (btf_prepare_func_args), not from what a caller passes: a pointer to
 * sized memory is mem_or_null there unless tagged `arg:nonnull`, so dereferencing it without a
 * NULL check is refused; callers are checked against those types ("Caller passes invalid args
 * into func#1"); the caller sees an unknown scalar returned. The expected messages are the
 * running 6.18 kernel's on verifier_global_subprogs.c (the selftests runner compares the
 * compiled object with the kernel; these hand-assembled programs have no BTF, which the
 * kernel needs for global functions, so they are checked against its messages, not loaded).
 */
const P = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;
const ptr = (size: number, ...tags: string[]): GlobalArg => ({ kind: 'ptr', size, tags });

/** main: r1 = fp-8 (8 bytes written), call g; g reads 4 bytes at r1 (optionally after a NULL check). */
function program(nullCheck: boolean, caller: 'stack' | 'null' | 'ctx' | 'scalar' = 'stack'): Instruction[] {
  const arg = caller === 'stack' ? [mov(R1, R10), add(R1, -8)] : caller === 'null' ? [mov(R1, 0)] : caller === 'scalar' ? [mov(R1, 5)] : [];
  return link([
    st('u64', R10, -8, 42),
    ...arg,
    callLocal('g'),
    exit(),
    label('g'),
    mov(R0, 0),
    ...(nullCheck ? [jeq(R1, 0, 'out')] : []),
    ldx('u32', R0, R1, 0),
    label('out'),
    exit(),
  ]);
}

function decide(p: Instruction[], args: readonly GlobalArg[], maps: readonly MapInfo[] = []): string {
  const g = p.findIndex((i, n) => n > 0 && i.opcode === 0xb7 && i.dst === 0 && p[n - 1].opcode === 0x95);
  const fn: GlobalFunc = { index: 1, name: 'g', args };
  const v = verify(p, { progType: P, ops: verifierOpsOf(P), maps, funcInfo: true, globalFuncs: new Map([[g, fn]]) });
  return v.ok ? 'ok' : `err ${v.errno} ${v.log.filter((l) => !l.startsWith('processed ')).at(-1)}`;
}

describe('verifier: global functions are checked from their BTF arguments', () => {
  it('an untagged pointer argument is mem_or_null: a load without a NULL check is refused', () => {
    assert.equal(decide(program(false), [ptr(4)]), "err 13 R1 invalid mem access 'mem_or_null'");
    // the same program as a static function (no BTF arguments): the caller's stack pointer is used, accepted
    const p = program(false);
    assert.equal(verify(p, { progType: P, ops: verifierOpsOf(P), funcInfo: true }).ok, true);
  });
  it('with a NULL check, or tagged arg:nonnull, the load is accepted', () => {
    assert.equal(decide(program(true), [ptr(4)]), 'ok');
    assert.equal(decide(program(false), [ptr(4, 'nonnull')]), 'ok');
  });
  it('the memory is only as large as its type: a load past it is refused', () => {
    assert.equal(decide(program(false), [ptr(2, 'nonnull')]), 'err 13 R1 min value is outside of the allowed memory range');
  });
  it('NULL may be passed; a scalar or ctx where memory is expected is refused at the call', () => {
    assert.equal(decide(program(true, 'null'), [ptr(4)]), 'ok');
    assert.match(decide(program(true, 'scalar'), [ptr(4)]), /^err 22 Caller passes invalid args into func#1 \('g'\)$/);
    assert.match(decide(program(true, 'ctx'), [ptr(4)]), /^err 22 Caller passes invalid args into func#1 \('g'\)$/);
  });
  it('a ctx argument must be given the context; an int argument a scalar', () => {
    const p = link([callLocal('g'), exit(), label('g'), mov(R0, 0), exit()]);
    const at = 2;
    const run = (args: GlobalArg[]) => {
      const v = verify(p, {
        progType: P,
        ops: verifierOpsOf(P),
        funcInfo: true,
        globalFuncs: new Map([[at, { index: 1, name: 'g', args }]]),
      });
      return v.ok ? 'ok' : v.log.filter((l) => !l.startsWith('processed ')).slice(-2);
    };
    assert.equal(run([{ kind: 'ptr', struct: '__sk_buff', tags: [] }]), 'ok');
    assert.equal(run([{ kind: 'ptr', tags: ['ctx'] }]), 'ok');
    // r1 holds the context: not a scalar
    assert.deepEqual(run([{ kind: 'int' }]), ['R1 is not a scalar', "Caller passes invalid args into func#1 ('g')"]);
  });
  it('the caller sees an unknown scalar returned, not the value the function returns', () => {
    // g returns 0; the caller adds r0 to a map value pointer: a known 0 is in bounds, an unknown scalar is refused
    const m: MapInfo = { type: MapType.BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, array: true, maxEntries: 1, frozen: false };
    const p = link([callLocal('g'), lddw(R1, 0, 2), add(R1, R0), ldx('u8', R0, R1, 0), exit(), label('g'), mov(R0, 0), exit()]);
    const fn: GlobalFunc = { index: 1, name: 'g', args: [] };
    const at = p.length - 2 + 1; // lddw is one Instruction of two slots
    const v = verify(p, { progType: P, ops: verifierOpsOf(P), maps: [m], funcInfo: true, globalFuncs: new Map([[at, fn]]) });
    assert.equal(v.ok ? 'ok' : v.message, 'math between map_value pointer and register with unbounded min value is not allowed');
    assert.equal(verify(p, { progType: P, ops: verifierOpsOf(P), maps: [m], funcInfo: true }).ok, true, 'as a static function');
  });
});
