import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { kernelBpffs } from '../support/bpffs.js';
import { CLI } from '../appliance/cliSupport.js';

/**
 * Differential: the verifier log shows each source line (BTF line info) before its
 * instructions, as the kernel's does (verbose_linfo: `; <line> @ <file>:<line>`, not repeated
 * for the same file and line). The kernel's log comes from libbpf when bpftool's load of an
 * object the verifier refuses fails; bpfbox's from `bpfbox verify`. Both give the source lines
 * in the same order, each before the same instruction.
 */
describe('differential: source lines in the verifier log', function () {
  this.timeout(60_000);
  const pin = `/sys/fs/bpf/bpfbox_linfo_${process.pid}`;
  before(function () {
    let why = '';
    if (spawnSync('bpftool', ['version']).error) why = 'bpftool is not installed';
    else if (process.getuid?.() !== 0) why = 'not root';
    else why = kernelBpffs() ?? '';
    if (why) {
      console.log(`  verifier log source lines: SKIPPED: ${why}`);
      this.skip();
    }
  });
  after(() => rmSync(pin, { force: true, recursive: true }));

  /** linesBefore: each `; … @ file:line` line of a log with the instruction index that follows it. */
  const linesBefore = (log: string) => {
    const lines = log.split('\n');
    const out: string[] = [];
    lines.forEach((l, i) => {
      if (!/^; .* @ [^ ]+:\d+$/.test(l)) return;
      const next = lines.slice(i + 1).find((x) => /^\d+: \(/.test(x));
      out.push(`${l} -> ${next?.split(':')[0]}`);
    });
    return out;
  };

  it('test/fixtures/bpf/xdp_fault.o: the same source lines before the same instructions', () => {
    const obj = join(REPO_ROOT, 'test/fixtures/bpf/xdp_fault.o');
    const k = spawnSync('bpftool', ['prog', 'load', obj, pin], { encoding: 'utf8' });
    assert.notEqual(k.status, 0, 'the kernel refuses it');
    const kernelLog = /-- BEGIN PROG LOAD LOG --\n([\s\S]*?)-- END PROG LOAD LOG --/.exec(k.stderr)?.[1] ?? '';
    const ours = spawnSync('node', [CLI, 'verify', obj], { encoding: 'utf8' });
    const want = linesBefore(kernelLog);
    assert.ok(want.length >= 4, `the kernel's log has source lines: ${kernelLog}`);
    assert.deepEqual(linesBefore(ours.stdout + ours.stderr), want);
  });

  /**
   * The whole log at level 1, line for line: the entry state, each instruction of the failing
   * path with the registers and stack it touched, the source lines, the reason. Normalised:
   * the map's address in the lddw line (the kernel prints its pointer, bpfbox `map[fd:N] ll`,
   * so the padding before `;` differs too) and the figures after `processed N insns`
   * (bpfbox keeps states at other places than the kernel).
   */
  it('test/fixtures/bpf/xdp_fault.o: the whole level 1 log, register state included', () => {
    const obj = join(REPO_ROOT, 'test/fixtures/bpf/xdp_fault.o');
    const k = spawnSync('bpftool', ['prog', 'load', obj, pin], { encoding: 'utf8' });
    const kernelLog = /-- BEGIN PROG LOAD LOG --\n([\s\S]*?)-- END PROG LOAD LOG --/.exec(k.stderr)?.[1] ?? '';
    const ours = spawnSync('node', [CLI, 'verify', obj], { encoding: 'utf8' });
    const normal = (log: string) =>
      log
        .split('\n')
        .filter((l) => /^\d+:|^;|^R\d|^processed /.test(l))
        .map((l) =>
          l.replace(/^(\d+: \(18\) r\d+ = )(0x[0-9a-f]+|map\[fd:\d+\] ll) *;/, '$1MAP ;').replace(/^(processed \d+ insns) .*/, '$1'),
        );
    const want = normal(kernelLog);
    assert.ok(
      want.some((l) => / ; R1=ctx\(\) R2=pkt\(r=0\)$/.test(l)),
      `the kernel's log has register state: ${kernelLog}`,
    );
    assert.deepEqual(normal(ours.stdout), want);
  });

  /**
   * Level 2 (bpftool -d asks for 1|2|4): every state line and instruction with its registers,
   * for the corpus objects whose log bpfbox prints as the kernel does. Normalised: lines bpfbox
   * does not print (`func#0 @0`, the `Live regs before insn:` table with its SCC numbers, 6.18's
   * stack liveness lines `(0) ...`, `verification time`, `stack depth`), the `mark_precise:`
   * walk back (bpfbox prints its own, where it asks for precision, but its indexes are those of
   * its kept states), the map's address in lddw lines, the figures after `processed N insns`.
   */
  const LEVEL2 = [
    'core_ctx.o',
    'events.o',
    'map_in_map.o',
    'ringbuf.o',
    'sock_cookie.o',
    'sock_proto.o',
    'tail_calls.o',
    'tc_clone.o',
    'tc_nat.o',
    'tc_proto.o',
    'tc_pull.o',
    'tc_room.o',
    'trace_print.o',
    'xdp_encap.o',
    'xdp_headroom.o',
    'xdp_mtu.o',
    'xdp_strings.o',
    'xdp_verdicts.o',
  ];
  for (const name of LEVEL2) {
    it(`bpf/${name}: the level 2 log, every state line`, () => {
      const obj = join(REPO_ROOT, 'bpf', name);
      const k = spawnSync('bpftool', ['-d', 'prog', 'loadall', obj, pin], { encoding: 'utf8' });
      rmSync(pin, { force: true, recursive: true });
      const normal = (log: string) =>
        log
          .split('\n')
          .filter(
            (l) =>
              l && !/^\(0\) |^verification time|^stack depth|^mark_precise|^Live regs|^ +(\d+ +)?\d+: [0-9.]{10} |^func#|^libbpf/.test(l),
          )
          .map((l) =>
            l.replace(/^(\d+: \(18\) r\d+ = )(0x[0-9a-f]+|map\[[^ ]*( ll)?) *;/, '$1MAP ;').replace(/^(processed \d+ insns).*/, '$1'),
          );
      const kernelLog = [...k.stderr.matchAll(/func#0 @0\n[\s\S]*?processed [^\n]*/g)].map((m) => m[0]).join('\n');
      const want = normal(kernelLog);
      assert.ok(want.length > 5, `the kernel's level 2 log: ${k.stderr.slice(0, 2000)}`);
      const ours = spawnSync('node', [CLI, 'verify', '--log-level', '2', obj], { encoding: 'utf8' });
      assert.deepEqual(
        normal(ours.stdout).filter((l) => !/: (accepted|refused)/.test(l)),
        want,
      );
    });
  }
});
