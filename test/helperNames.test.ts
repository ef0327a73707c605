import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { helperId, helperName } from '../uapi/helperNames.js';

const DEFS = '/usr/include/bpf/bpf_helper_defs.h';

describe('helper ids', () => {
  it("match libbpf's bpf_helper_defs.h, id for id", function () {
    if (!existsSync(DEFS)) {
      console.log(`  helper ids: SKIPPED: ${DEFS} is missing (apt-get install libbpf-dev)`);
      this.skip();
    }
    const defs = [...readFileSync(DEFS, 'utf8').matchAll(/\(\*(bpf_\w+)\)\(.*\) = \(void \*\) (\d+);/g)];
    assert.ok(defs.length > 150, `only ${defs.length} helpers parsed from ${DEFS}`);
    for (const [, name, id] of defs) {
      assert.equal(helperName(Number(id)), name, `id ${id}`);
      assert.equal(helperId(name), Number(id));
    }
  });
  it('know the ids the conformance suite and common programs use', () => {
    // from include/uapi/linux/bpf.h: map_lookup_elem 1, ktime_get_ns 5, tail_call 12, redirect_map 51
    assert.deepEqual([1, 5, 12, 51].map(helperName), ['bpf_map_lookup_elem', 'bpf_ktime_get_ns', 'bpf_tail_call', 'bpf_redirect_map']);
    assert.equal(helperName(0), undefined);
    assert.equal(helperId('bpf_no_such_helper'), undefined);
  });
});
