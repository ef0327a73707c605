import assert from 'node:assert/strict';
import { ProgType } from '../../uapi/progType.js';
import { Kernel } from '../../kernel/kernel.js';
import { xorshift32 } from '../../pcaps/synth.js';
import { encode } from '../../vm/decode.js';
import { type Instruction, insn } from '../../vm/instruction.js';
import { legalityTable } from '../../vm/legality.js';

/**
 * Bad input at BPF_PROG_LOAD: random instructions (known opcodes with random registers,
 * offsets and immediates, and some unknown opcodes) must always get an answer from the
 * verifier, a program or a negative errno; never an exception.
 */
describe('verifier: random bytecode always gets an errno or a program', function () {
  this.timeout(60_000);
  it('3,000 random programs through BPF_PROG_LOAD', () => {
    const r = xorshift32(77);
    const opcodes = [...legalityTable.keys()];
    const k = new Kernel({ ncpus: 1 });
    const map = k.bpf('BPF_MAP_CREATE', { map_type: 2, key_size: 4, value_size: 8, max_entries: 4 });
    const answers = new Map<number, number>();
    for (let n = 0; n < 3000; n++) {
      const len = 1 + (r() % 24);
      const insns: Instruction[] = [];
      for (let i = 0; i < len; i++) {
        const op = r() % 20 === 0 ? r() & 0xff : opcodes[r() % opcodes.length];
        if (op === 0x18) insns.push(insn(0x18, r() % 11, r() % 3 === 0 ? 1 : r() % 6, 0, r() % 4 === 0 ? BigInt(map) : BigInt(r())));
        else insns.push(insn(op, r() % 12 === 11 ? 11 : r() % 11, r() % 11, (r() % 40) - 20, (r() % 64) - 8));
      }
      insns.push(insn(0x95, 0, 0, 0, 0));
      let bytes: Uint8Array;
      try {
        bytes = encode(insns);
      } catch {
        continue; // a register the encoder cannot hold
      }
      const type = [ProgType.BPF_PROG_TYPE_XDP, ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_SCHED_CLS][n % 3];
      const fd = k.bpf('BPF_PROG_LOAD', { prog_type: type, insns: bytes, license: 'GPL' });
      assert.equal(typeof fd, 'number');
      answers.set(fd < 0 ? fd : 0, (answers.get(fd < 0 ? fd : 0) ?? 0) + 1);
      if (fd > 0) k.process.close(fd);
    }
    // several different errnos, so the programs reach different checks
    assert.ok(answers.size >= 3, JSON.stringify([...answers]));
  });
});
