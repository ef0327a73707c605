import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { assemble } from '../vm/asm/assembler.js';
import { parseVector } from '../vm/conformance/vector.js';
import { decode, encode } from '../vm/decode.js';
import { disassemble, listing } from '../vm/disassembler.js';
import { AssemblyError } from '../vm/errors.js';
import { insn } from '../vm/instruction.js';
import { legalityTable } from '../vm/legality.js';
import { checkLegal } from '../vm/legality.js';
import { CONFORMANCE_DIR } from './support/paths.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('disassembler', () => {
  // Expected texts are the kernel's own forms, as printed by `bpftool prog dump xlated`
  // and the verifier log (kernel/bpf/disasm.c).
  const cases: readonly [string, string][] = [
    ['61 21 04 00 00 00 00 00', 'r1 = *(u32 *)(r2 +4)'],
    ['2d 21 03 00 00 00 00 00', 'if r1 > r2 goto pc+3'],
    ['db 10 00 00 00 00 00 00', 'lock *(u64 *)(r0 +0) += r1'],
    ['b7 00 00 00 00 00 00 00', 'r0 = 0'],
    ['04 00 00 00 01 00 00 00', 'w0 += 1'],
    ['bc 21 00 00 00 00 00 00', 'w1 = w2'],
    ['7b 1a f8 ff 00 00 00 00', '*(u64 *)(r10 -8) = r1'],
    ['62 0a fc ff 01 00 00 00', '*(u32 *)(r10 -4) = 1'],
    ['15 01 02 00 00 00 00 00', 'if r1 == 0x0 goto pc+2'],
    ['a6 01 ff ff 05 00 00 00', 'if w1 < 0x5 goto pc-1'],
    ['85 00 00 00 01 00 00 00', 'call bpf_map_lookup_elem#1'],
    ['85 10 00 00 05 00 00 00', 'call pc+5'],
    ['95 00 00 00 00 00 00 00', 'exit'],
    ['dc 01 00 00 10 00 00 00', 'r1 = be16 r1'],
    ['d7 01 00 00 20 00 00 00', 'r1 = bswap32 r1'],
    ['bf 21 08 00 00 00 00 00', 'r1 = (s8)r2'],
    ['3f 21 01 00 00 00 00 00', 'r1 s/= r2'],
    ['91 21 02 00 00 00 00 00', 'r1 = *(s8 *)(r2 +2)'],
    ['c3 21 08 00 01 00 00 00', 'w2 = atomic_fetch_add((u32 *)(r1 +8), w2)'],
    ['db 21 00 00 f1 00 00 00', 'r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)'],
    ['30 00 00 00 0c 00 00 00', 'r0 = *(u8 *)skb[12]'],
    ['06 00 00 00 02 00 00 00', 'gotol pc+2'],
  ];
  for (const [bytes, text] of cases) {
    it(`${bytes} -> ${text}`, () => {
      const b = Uint8Array.from(bytes.split(' ').map((h) => parseInt(h, 16)));
      assert.equal(disassemble(decode(b)[0]), text);
    });
  }
  it('prints lddw with the ll suffix and map references', () => {
    assert.equal(disassemble(insn(0x18, 1, 0, 0, 0x1122334455667788n)), 'r1 = 0x1122334455667788 ll');
    assert.equal(disassemble(insn(0x18, 1, 1, 0, 5n)), 'r1 = map[fd:5] ll');
    assert.equal(disassemble(insn(0x18, 2, 2, 0, (16n << 32n) | 5n)), 'r2 = map[fd:5][0]+16 ll');
  });
  it('lists a program like bpftool prog dump xlated', () => {
    assert.equal(listing([insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)]), '   0: (b7) r0 = 0\n   1: (95) exit');
  });
});

describe('assembler', () => {
  it('assembles the conformance dialect', () => {
    const p = assemble('mov32 %r0, 1\nadd %r0, -3 # comment\nldxh %r1, [%r10-2]\nlock fetch xor32 [%r10-4], %r3\nexit');
    assert.equal(hex(encode(p)), 'b400000001000000' + '07000000fdffffff' + '69a1feff00000000' + 'c33afcffa1000000' + '9500000000000000');
  });
  it('resolves labels and relative targets in both syntaxes', () => {
    const p = assemble('ja end\njeq %r1, 0, +1\nif r1 s> 0x3 goto end\nend:\nexit');
    assert.deepEqual(
      p.map((i) => i.offset),
      [2, 1, 0, 0],
    );
  });
  it('names the line of an error', () => {
    assert.throws(
      () => assemble('mov %r0, 1\nmov32 %r0, 2147483648'),
      (e: unknown) => e instanceof AssemblyError && e.line === 2,
    );
    assert.throws(() => assemble('exit\nja nowhere'), /line 2: unknown label nowhere/);
    assert.throws(() => assemble('ldxb %r0, [%r1+0x10000]'), /line 1: offset \+0x10000 out of 16-bit range/);
    assert.throws(() => assemble('r0 = *(u128 *)(r1 +0)'), /line 1: cannot parse/);
  });
  it('accepts a bpftool listing as input', () => {
    const p = assemble('   0: (b7) r0 = 7\n   1: (95) exit');
    assert.equal(hex(encode(p)), 'b700000007000000' + '9500000000000000');
  });
});

describe('round trip: disassemble, then assemble, gives the same bytes', () => {
  it('for every program of the conformance suite', function () {
    if (!existsSync(CONFORMANCE_DIR)) this.skip(); // said in conformance.test.ts
    let n = 0;
    for (const f of readdirSync(join(CONFORMANCE_DIR, 'tests')).filter((f) => f.endsWith('.data'))) {
      const v = parseVector(f, readFileSync(join(CONFORMANCE_DIR, 'tests', f), 'utf8'));
      const bytes = v.raw ?? encode(assemble(v.asm!));
      const again = encode(assemble(decode(bytes).map(disassemble).join('\n')));
      assert.equal(hex(again), hex(bytes), f);
      n++;
    }
    assert.equal(n, 313);
  });
  it('for random legal instructions of every opcode', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    let checked = 0;
    for (const [opcode, rule] of legalityTable) {
      for (let k = 0; k < 40; k++) {
        const pick = (f: typeof rule.off, wide: number) =>
          f === 'zero' ? 0 : f === 'any' ? rand(wide) - (wide >> 1) : f === 'reg' ? rand(11) : f[rand(f.length)];
        const dst = rule.dst === 'zero' ? 0 : rand(rule.dst === 'write' ? 10 : 11);
        const src = pick(rule.src, 11);
        const wide = BigInt(rand(1 << 30)) * BigInt(rand(1 << 30)) - (1n << 58n);
        const imm = rule.name !== 'lddw' ? pick(rule.imm, 1 << 31) : [1, 4, 5].includes(src) ? wide & 0xffffffffn : wide;
        const i = insn(opcode, dst, src, pick(rule.off, 1 << 16), imm);
        checkLegal(i, 0);
        const back = assemble(disassemble(i));
        assert.equal(hex(encode(back)), hex(encode([i])), `${disassemble(i)} (opcode 0x${opcode.toString(16)})`);
        checked++;
      }
    }
    assert.equal(checked, legalityTable.size * 40);
  });
});
