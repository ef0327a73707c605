import assert from 'node:assert/strict';
import { decode, encode } from '../vm/decode.js';
import { BpfError, DecodeError, LoadError } from '../vm/errors.js';
import { insn } from '../vm/instruction.js';
import { checkProgram } from '../vm/program.js';
import { legalityTable } from '../vm/legality.js';
import { assemble } from '../vm/asm/assembler.js';
import { AssemblyError } from '../vm/errors.js';
import { VectorError, parseVector } from '../vm/conformance/vector.js';
import { R0, R1, exit, ja, jeq, label, lddw, link, mov } from '../vm/dsl.js';

const bytes = (...words: string[]) =>
  Uint8Array.from(
    words
      .join(' ')
      .split(/\s+/)
      .map((h) => parseInt(h, 16)),
  );
const EXIT = '95 00 00 00 00 00 00 00';
const load = (b: Uint8Array) => checkProgram(decode(b));

/** expectIndex asserts a typed error that names instruction `index` and matches `re`. */
function rejects(fn: () => unknown, index: number, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DecodeError || e instanceof LoadError, `expected a typed error, got ${String(e)}`);
    assert.equal(e.index, index);
    assert.match(e.message, re);
    return true;
  });
}

describe('bad bytecode', () => {
  it('a length that is not a multiple of 8', () => {
    rejects(() => decode(new Uint8Array(12)), 1, /length 12 is not a multiple of 8/);
  });
  it('an lddw missing its second half', () => {
    rejects(() => decode(bytes(EXIT, '18 00 00 00 01 00 00 00')), 1, /lddw is missing its second half/);
  });
  it('an lddw whose second half has an opcode', () => {
    rejects(() => decode(bytes('18 00 00 00 01 00 00 00', EXIT)), 1, /second half of lddw must have zero opcode/);
  });
  it('a jump out of range, forward and backward', () => {
    rejects(() => load(bytes('05 00 05 00 00 00 00 00', EXIT)), 0, /jump out of range from insn 0 to 6/);
    rejects(() => load(bytes('b7 00 00 00 00 00 00 00', '05 00 fd ff 00 00 00 00', EXIT)), 1, /jump out of range from insn 1 to -1/);
  });
  it('a jump into the middle of an lddw', () => {
    const p = [insn(0x05, 0, 0, 1, 0), insn(0x18, 0, 0, 0, 5n), insn(0x95, 0, 0, 0, 0)];
    rejects(() => checkProgram(p), 0, /jump from insn 0 into the middle of lddw at 1/);
  });
  it('a local call out of range', () => {
    rejects(() => load(bytes('b7 00 00 00 00 00 00 00', '85 10 00 00 10 00 00 00', EXIT)), 1, /call out of range/);
  });
  it('an unknown opcode', () => {
    rejects(() => load(bytes('b7 00 00 00 00 00 00 00', 'ff 00 00 00 00 00 00 00', EXIT)), 1, /unknown opcode 0xff/);
    rejects(() => load(bytes('8e 00 00 00 00 00 00 00', EXIT)), 0, /unknown opcode 0x8e/);
  });
  it('reserved fields set', () => {
    rejects(() => load(bytes('07 10 00 00 01 00 00 00', EXIT)), 0, /invalid src field 1 in add64/);
    rejects(() => load(bytes('0f 00 01 00 00 00 00 00', EXIT)), 0, /invalid offset 1 in add64/);
    rejects(() => load(bytes('b7 00 00 00 00 00 00 00', '95 00 00 00 01 00 00 00')), 1, /invalid imm 1 in exit/);
    rejects(() => load(bytes('dc 00 00 00 11 00 00 00', EXIT)), 0, /invalid imm 17 in be/);
    rejects(() => load(bytes('bf 10 07 00 00 00 00 00', EXIT)), 0, /invalid offset 7 in mov64/);
    rejects(() => load(bytes('db 10 00 00 02 00 00 00', EXIT)), 0, /invalid imm 2 in atomic64/);
    rejects(() => load(bytes('c3 10 00 00 02 00 00 00', EXIT)), 0, /invalid imm 2 in atomic32/);
  });
  it('invalid registers and writes to r10', () => {
    rejects(() => load(bytes('b7 0b 00 00 00 00 00 00', EXIT)), 0, /invalid dst register r11/);
    rejects(() => load(bytes('bf c0 00 00 00 00 00 00', EXIT)), 0, /invalid src register r12/);
    rejects(() => load(bytes('b7 0a 00 00 00 00 00 00', EXIT)), 0, /frame pointer r10 is read only/);
  });
  it('falling off the end', () => {
    rejects(() => load(bytes('b7 00 00 00 00 00 00 00')), 0, /falls off the end/);
  });
  it('an empty program', () => {
    rejects(() => load(new Uint8Array(0)), 0, /program is empty/);
  });
  it('reading a register before writing it', () => {
    rejects(
      () => checkProgram(link([mov(R0, 0), jeq(R1, 0, 'x'), mov(R0, R1), label('x'), exit()]), { entryRegisters: [10] }),
      1,
      /R1 !read_ok/,
    );
    rejects(() => checkProgram(link([jeq(R1, 0, 'x'), mov(R0, 1), label('x'), exit()])), 2, /R0 !read_ok/);
  });
  it('a register written on one path only is not initialised after the join', () => {
    const p = link([jeq(R1, 0, 'skip'), mov(R0, 1), label('skip'), exit()]);
    rejects(() => checkProgram(p), 2, /R0 !read_ok/);
  });
  it('lddw, ja and loops pass the checks', () => {
    assert.ok(checkProgram(link([lddw(R0, 1n), label('l'), jeq(R0, 0, 'o'), mov(R0, 0), ja('l'), label('o'), exit()])));
  });
  it('random instructions never escape as a bare TypeError or RangeError', () => {
    // Opcodes come from the legality table most of the time, fields are random: this reaches
    // every check, and accepted programs must re-encode to their own bytes.
    let seed = 12345;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const legal = [...legalityTable.keys()];
    let accepted = 0;
    let rejected = 0;
    for (let n = 0; n < 5000; n++) {
      const slots = 1 + rand(5);
      const b = new Uint8Array(slots * 8 + 16 + (n % 97 === 0 ? 3 : 0));
      const v = new DataView(b.buffer);
      for (let s = 0; s < slots; s++) {
        v.setUint8(s * 8, rand(4) === 0 ? rand(256) : legal[rand(legal.length)]);
        v.setUint8(s * 8 + 1, rand(3) === 0 ? rand(256) : rand(10) | (rand(10) << 4));
        v.setInt16(s * 8 + 2, rand(3) === 0 ? rand(65536) - 32768 : rand(3) === 0 ? rand(slots + 2) : 0, true);
        v.setInt32(s * 8 + 4, rand(2) === 0 ? 0 : rand(3) === 0 ? rand(1 << 30) : [16, 32, 64, 1, 0xf1][rand(5)], true);
      }
      b.set([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0], slots * 8); // r0 = 0; exit
      try {
        const p = checkProgram(decode(b), { entryRegisters: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
        assert.deepEqual(encode(p.insns), b, 'accepted bytecode re-encodes to the same bytes');
        accepted++;
      } catch (e) {
        if (!(e instanceof BpfError)) throw e;
        rejected++;
      }
    }
    // both branches must be exercised for the property above to mean anything
    assert.ok(accepted > 100, `only ${accepted} random programs were accepted`);
    assert.ok(rejected > 200, `only ${rejected} random programs were rejected`);
  });
});

describe('bad assembly text', () => {
  it('random text never escapes as a bare TypeError', () => {
    // Lines are spliced from real syntax fragments, so most get deep into the parsers.
    const parts = [
      'mov',
      'ldxw',
      'lock',
      'fetch',
      'add32',
      'r1',
      '%r2',
      'w3',
      '=',
      '+=',
      '*(u32 *)',
      '(r1 +4)',
      '[%r1+2]',
      'if',
      'goto',
      'pc+1',
      '0x10',
      '-5',
      ',',
      'exit',
      'call',
      'local',
      'lddw',
      'skb[',
      ']',
      'll',
      'map[fd:1]',
      '#',
      'x:',
    ];
    let seed = 99;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    let ok = 0;
    let failed = 0;
    for (let n = 0; n < 20000; n++) {
      const line = Array.from({ length: 1 + rand(6) }, () => parts[rand(parts.length)]).join(rand(2) ? ' ' : '');
      try {
        assemble(line);
        ok++;
      } catch (e) {
        if (!(e instanceof AssemblyError)) throw new Error(`'${line}' threw ${String(e)}`);
        failed++;
      }
    }
    assert.ok(ok > 100 && failed > 1000, `${ok} assembled, ${failed} rejected`);
  });
  it('a malformed conformance vector names the file and the problem', () => {
    assert.throws(() => parseVector('x.data', '-- asm\nexit\n-- mem\nzz\n-- result\n0'), /x.data: mem: 'zz' is not a hex byte/);
    assert.throws(() => parseVector('y.data', '-- asm\nexit\n-- result\nabc'), /y.data: result 'abc' is not a number/);
    assert.throws(() => parseVector('z.data', '-- asm\nexit\n-- Unknown directive\n'), /z.data: unknown section/);
    assert.throws(
      () => parseVector('e.data', ''),
      (e: unknown) => e instanceof VectorError && /no program/.test(e.message),
    );
  });
});
