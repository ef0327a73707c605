import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { bpfbox, tempState } from './cliSupport.js';

/**
 * `bpfbox verify OBJ` runs the verifier without loading; `bpfbox prog load` shows the log of a
 * program the verifier refuses the way bpftool (libbpf) frames it.
 */
describe('verify and prog load: the verifier from the command line', function () {
  this.timeout(60_000);
  const state = tempState();
  after(() => rmSync(state, { recursive: true, force: true }));
  const FAULT = join(REPO_ROOT, 'test', 'fixtures', 'bpf', 'xdp_fault.o');

  it('verify: accepted programs exit 0 and say how many instructions were processed', () => {
    const r = bpfbox(state, 'verify', join(REPO_ROOT, 'bpf', 'tail_calls.o'), '-j');
    assert.equal(r.code, 0, r.err);
    const outcomes = JSON.parse(r.out) as { name: string; accepted: boolean; processed: number }[];
    assert.deepEqual(outcomes.map((o) => [o.name, o.accepted]).sort(), [
      ['xdp_dispatch', true],
      ['xdp_drop_all', true],
      ['xdp_pass_all', true],
    ]);
    // xdp_pass_all is `r0 = 2; exit`: two instructions on one path
    assert.equal(outcomes.find((o) => o.name === 'xdp_pass_all')!.processed, 2);
  });

  it('verify: a refused program exits 1 with the failing path and the reason', () => {
    const r = bpfbox(state, 'verify', FAULT, '--log-level', '1');
    assert.equal(r.code, 1);
    assert.match(r.out, /10: \(61\) r0 = \*\(u32 \*\)\(r0 \+0\)\nR0 invalid mem access 'map_value_or_null'\nprocessed 10 insns/);
    assert.match(r.out, /xdp_fault: refused: Permission denied \(errno 13\)/);
  });

  it('verify --log-level 2: every instruction with what it wrote', () => {
    const r = bpfbox(state, 'verify', join(REPO_ROOT, 'bpf', 'xdp_simple.o'), '--log-level', '2');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^0: R1=ctx\(\) R10=fp0\n/);
    assert.match(r.out, /2: \(bf\) r2 = r10 +; R2=fp0 R10=fp0\n/);
  });

  it("prog load prints the log of a refused program between libbpf's markers", () => {
    const r = bpfbox(state, 'prog', 'load', FAULT, '/sys/fs/bpf/fault');
    assert.equal(r.code, 255);
    assert.match(
      r.err,
      /^libbpf: prog 'xdp_fault': BPF program load failed: Permission denied\nlibbpf: prog 'xdp_fault': -- BEGIN PROG LOAD LOG --\n0: R1=ctx\(\) R10=fp0\n; __u32 len = ctx->data_end - ctx->data; @ xdp_fault.c:17\n0: \(61\)/,
    );
    assert.match(
      r.err,
      /R0 invalid mem access 'map_value_or_null'\nprocessed 10 insns .*\n-- END PROG LOAD LOG --\nError: failed to load object file\n$/,
    );
    assert.equal(bpfbox(state, 'prog', 'show', 'pinned', '/sys/fs/bpf/fault').code, 255, 'nothing was pinned');
  });
});
