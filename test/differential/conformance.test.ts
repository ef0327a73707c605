import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble } from '../../vm/asm/assembler.js';
import { flowOf, slotMap } from '../../vm/cfg.js';
import { parseVector } from '../../vm/conformance/vector.js';
import { runVector } from '../../vm/conformance/runVector.js';
import { decode, encode } from '../../vm/decode.js';
import { type Instruction, insn } from '../../vm/instruction.js';
import { interpreter } from '../../vm/interpreter/interpreter.js';
import { CONFORMANCE_DIR, REPO_ROOT } from '../support/paths.js';

/**
 * withHighHalf rewrites every `exit` of the main function into a jump to an epilogue that
 * shifts r0 right by 32, so the kernel's 32-bit test-run retval shows r0's high half.
 * The epilogue goes right after the main function (the kernel forbids jumps into another
 * function); calls from main to the functions after it move two slots further.
 */
function withHighHalf(insns: readonly Instruction[]): Instruction[] {
  const map = slotMap(insns);
  let end = map.length;
  for (let s = 0; s < map.length; s++) {
    const callee = map.at[s] ? flowOf(map, s).call : undefined;
    if (callee !== undefined) end = Math.min(end, callee);
  }
  const out: Instruction[] = [];
  for (let s = 0; s < map.length; s++) {
    if (s === end) out.push(insn(0x77, 0, 0, 0, 32), insn(0x95, 0, 0, 0, 0)); // r0 >>= 32; exit
    const i = map.at[s];
    if (!i) continue;
    const callee = flowOf(map, s).call;
    if (s < end && i.opcode === 0x95) out.push(insn(0x05, 0, 0, end - (s + 1), 0));
    else if (s < end && callee !== undefined) out.push(insn(i.opcode, i.dst, i.src, i.offset, i.imm + 2n));
    else out.push(i);
  }
  if (end === map.length) out.push(insn(0x77, 0, 0, 0, 32), insn(0x95, 0, 0, 0, 0));
  return out;
}

type KernelResult = { retval: bigint } | { rejected: string };

describe('differential: the Linux kernel runs the conformance programs as bpfbox does', function () {
  this.timeout(300_000);
  let runner = '';
  let dir = '';

  before(function () {
    const why = (reason: string) => {
      console.log(`  kernel differential: SKIPPED: ${reason}`);
      this.skip();
    };
    if (!existsSync(join(CONFORMANCE_DIR, 'tests'))) return why(`${CONFORMANCE_DIR} is not beside the checkout`);
    if (process.platform !== 'linux') return why('not Linux');
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-kernel-'));
    runner = join(dir, 'bpf_run');
    const cc = spawnSync('cc', ['-O2', '-o', runner, join(REPO_ROOT, 'test', 'differential', 'c', 'bpf_run.c')], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) return why(`cannot build test/differential/c/bpf_run.c: ${cc.error?.message ?? cc.stderr}`);
    const probe = run(encode([insn(0xb7, 0, 0, 0, 42), insn(0x95, 0, 0, 0, 0)]), new Uint8Array(0));
    if (!('retval' in probe) || probe.retval !== 42n)
      return why(
        `BPF is not available here (${JSON.stringify(probe, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}); run as root on a kernel with BPF`,
      );
  });

  let n = 0;
  function run(prog: Uint8Array, mem: Uint8Array): KernelResult | { unavailable: string } {
    const p = join(dir, `p${n}.bin`);
    const c = join(dir, `c${n++}.bin`);
    writeFileSync(p, prog);
    writeFileSync(c, mem);
    const r = spawnSync(runner, mem.length ? [p, c] : [p], { encoding: 'utf8' });
    const out = r.stdout.trim();
    const m = /^retval (\d+)$/.exec(out);
    if (m) return { retval: BigInt(m[1]) };
    if (out.startsWith('unavailable')) return { unavailable: out };
    return { rejected: out };
  }

  it('every program the kernel accepts returns the same full 64-bit r0 in both', () => {
    const files = readdirSync(join(CONFORMANCE_DIR, 'tests'))
      .filter((f) => f.endsWith('.data'))
      .sort();
    const agreed: string[] = [];
    const rejected: string[] = [];
    for (const f of files) {
      const v = parseVector(f, readFileSync(join(CONFORMANCE_DIR, 'tests', f), 'utf8'));
      if (v.result === undefined) continue;
      const insns = v.raw ? decode(v.raw) : assemble(v.asm!);
      const lo = run(encode(insns), v.mem);
      if (!('retval' in lo)) {
        rejected.push(`${f}: ${'rejected' in lo ? lo.rejected : lo.unavailable}`);
        continue;
      }
      const hi = run(encode(withHighHalf(insns)), v.mem);
      assert.ok(
        'retval' in hi,
        `${f}: the kernel accepted the program but not its high-half variant: ${'rejected' in hi ? hi.rejected : 'unavailable'}`,
      );
      const kernel = (hi.retval << 32n) | lo.retval;
      const ours = runVector(v, interpreter);
      assert.equal(ours.got, `0x${kernel.toString(16)}`, `${f}: kernel r0 0x${kernel.toString(16)}, bpfbox ${ours.got}`);
      assert.equal(kernel, v.result, `${f}: the kernel disagrees with the vector itself`);
      agreed.push(f);
    }
    console.log(
      `  kernel differential: ${agreed.length} programs agree with the kernel; ${rejected.length} the kernel's verifier refuses (${[...new Set(rejected.map((r) => r.replace(/^[^:]+: load-error \d+ /, '').replace(/\d+/g, 'N')))].slice(0, 6).join('; ')})`,
    );
    // The kernel refuses programs its verifier cannot prove safe (uninitialised r2, unaligned
    // context access, callx, loops it cannot bound); everything else must be compared.
    assert.ok(agreed.length >= 285, `only ${agreed.length} programs could be compared`);
  });
});
