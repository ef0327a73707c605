import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { REPO_ROOT } from '../support/paths.js';

describe('elf: extern __ksym variables', () => {
  it('a typed percpu variable (bpf_prog_active) is refused naming it, not mistaken for a kfunc', () => {
    const file = join(REPO_ROOT, 'test', 'fixtures', 'bpf', 'xdp_ksym_percpu.o');
    assert.throws(
      () => readCollection(readFileSync(file), { name: 'xdp_ksym_percpu.o' }),
      (e: Error) => /extern \(var ksym\) 'bpf_prog_active': not provided by bpfbox/.test(e.message) && !/func ksym/.test(e.message),
    );
  });
});
