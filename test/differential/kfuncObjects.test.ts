import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KernelResult, buildKload, runBpfbox, runKernel } from '../../bench/selftests/sides.js';
import type { BpfboxResult } from '../../bench/selftests/worker.js';
import { REPO_ROOT } from '../support/paths.js';

/**
 * Differential: test/fixtures/bpf/kfuncObjects.o's programs (the bits iterator, bpf_task_from_pid /
 * bpf_task_release references, bpf_cast_to_kern_ctx, conntrack lookups; in XDP, tc, cgroup_skb, socket
 * filter and act programs), each loaded
 * alone in the running kernel (bench/selftests/kload.c, libbpf) and in bpfbox: the same
 * decision, errno and final log line; for the programs that touch no kernel object, the same
 * test-run return value on 64 zero bytes. The *_bad programs are the ones the kernel refuses,
 * the others it loads; both sides are read, neither is assumed.
 */
const OBJ = join(REPO_ROOT, 'test', 'fixtures', 'bpf', 'kfuncObjects.o');
/** Test-run on both sides: no task, connection or kernel struct is read, so the results must agree. */
const RUN = ['bits_count', 'bits_errors', 'task_none', 'kern_ctx', 'ct_miss', 'ct_errors', 'task_tc', 'ct_tc'];

describe('differential: kfuncs with references, casts and the bits iterator, as the kernel decides', function () {
  this.timeout(120_000);
  let cache = '';
  let kernel: KernelResult[] = [];
  let bpfbox: BpfboxResult[] = [];
  before(async function () {
    let why = '';
    if (process.getuid?.() !== 0) why = 'not root';
    else if (spawnSync('cc', ['--version']).error) why = 'no C compiler for the kernel-side loader';
    if (why) {
      console.log(`  kfuncObjects differential: SKIPPED: ${why}`);
      this.skip();
    }
    cache = mkdtempSync(join(tmpdir(), 'bpfbox-kfuncobj-'));
    let tool: string;
    try {
      tool = buildKload(cache, '/nonexistent', 'debian').tool;
    } catch (e) {
      console.log(`  kfuncObjects differential: SKIPPED: ${(e as Error).message}`);
      return this.skip();
    }
    kernel = await runKernel(tool, OBJ, RUN);
    const b = await runBpfbox(OBJ, RUN, 10_000);
    assert.equal(b.object, undefined, `bpfbox could not read the object: ${b.object?.msg}`);
    bpfbox = b.programs;
  });
  after(() => cache && rmSync(cache, { recursive: true, force: true }));

  const PROGS = [
    'bits_count',
    'bits_errors',
    'bits_leak_bad',
    'task_none',
    'task_leak_bad',
    'task_unchecked_bad',
    'task_twice_bad',
    'task_dst_bad',
    'task_socket_bad',
    'kern_ctx',
    'kern_ctx_write_bad',
    'ct_miss',
    'ct_errors',
    'ct_leak_bad',
    'ct_socket_bad',
    // availability per program type: sched_cls and cgroup_skb have the generic and conntrack sets, sched_act neither
    'task_tc',
    'task_act_bad',
    'task_cgroup_skb',
    'ct_tc',
    'ct_act_bad',
  ];
  for (const name of PROGS)
    it(name, function () {
      const k = kernel.find((r) => r.name === name);
      const b = bpfbox.find((r) => r.name === name);
      assert.ok(k && b, `${name}: a side gave no result`);
      if (k.stage === 'loader') {
        console.log(`  ${name}: SKIPPED: libbpf did not load it: ${k.msg}`);
        return this.skip();
      }
      assert.equal(b.outcome, k.stage === 'ok' ? 'accept' : 'reject', `${name}: decision (kernel: ${k.msg || 'loaded'}; bpfbox: ${b.msg})`);
      // a name ending in _bad is one this file says the kernel refuses: the kernel must agree
      assert.equal(
        k.stage === 'verifier',
        name.endsWith('_bad'),
        `${name}: the running kernel's decision is not the one the source expects`,
      );
      if (k.stage === 'verifier') {
        assert.equal(b.errno, k.errno, `${name}: errno`);
        assert.equal(b.msg, k.msg, `${name}: final log line`);
      }
      if (RUN.includes(name)) assert.equal(b.retval, k.retval, `${name}: test-run return value`);
    });
});
