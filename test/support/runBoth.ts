import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kernel } from '../../kernel/kernel.js';
import type { LoadedCollection } from '../../kernel/loadCollection.js';

/** A side of a differential test run: one bpfbox kernel with the object loaded, under an engine. */
export interface RunSide {
  readonly k: Kernel;
  readonly l: LoadedCollection;
  readonly engine: string;
}

/**
 * runBoth runs `pkt` through the kernel's copy of the program (`bpftool prog run pinned PIN`,
 * files in `tmp`) and through `prog` on every bpfbox side, and asserts they agree: both refuse,
 * or the same return value and output bytes. Returns how many sides were compared on a run.
 */
export function runBoth(pin: string, prog: string, sides: readonly RunSide[], name: string, pkt: Uint8Array, tmp: string): number {
  const inFile = join(tmp, 'in.bin');
  const outFile = join(tmp, 'out.bin');
  writeFileSync(inFile, pkt);
  rmSync(outFile, { force: true });
  const kr = spawnSync('bpftool', ['-j', 'prog', 'run', 'pinned', pin, 'data_in', inFile, 'data_out', outFile], { encoding: 'utf8' });
  let compared = 0;
  for (const { k, l, engine } of sides) {
    const a = { prog_fd: l.programs.get(prog)!, data_in: pkt, data_out: new Uint8Array(16384), retval: 0, data_size_out: 0 };
    const r = k.bpf('BPF_PROG_TEST_RUN', a);
    if (kr.status !== 0) {
      assert.ok(r < 0, `${name} (${engine}): the kernel refused (${kr.stdout.trim()}), bpfbox ran it`);
      continue;
    }
    assert.equal(r, 0, `${name} (${engine}): the kernel ran it, bpfbox refused: ${r}`);
    assert.equal(a.retval, JSON.parse(kr.stdout).retval, `${name} (${engine}): return value`);
    assert.equal(
      Buffer.from(a.data_out.subarray(0, a.data_size_out)).toString('hex'),
      readFileSync(outFile).toString('hex'),
      `${name} (${engine}): data_out`,
    );
    compared++;
  }
  return compared;
}
