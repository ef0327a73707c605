import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { Kernel } from '../../kernel/kernel.js';
import { PACKETS } from '../support/packets.js';
import { REPO_ROOT } from '../support/paths.js';
import { kernelBpffs } from '../support/bpffs.js';
import { bpfboxSlots, kernelSlots, showSlots } from '../support/resultSlots.js';

/**
 * Differential for `current` as a kernel object (hooks/helpers/currentTask.ts): bpf/tc_task.o
 * reads pid, tgid and comm out of bpf_get_current_task_btf's task_struct and compares them with
 * bpf_get_current_pid_tgid and bpf_get_current_comm, creates, reads, deletes task storage, gives
 * the local storage helpers NULL owners, calls bpf_find_vma at address 0 and with flags,
 * bpf_get_task_stack with a bad size, bpf_task_pt_regs, and keeps each raw answer in `results`.
 * Each packet runs through `bpftool prog run` on the running kernel and through bpfbox's test
 * run; the return value, the output bytes and every slot of `results` must agree.
 */
const DIR = `/sys/fs/bpf/bpfbox_task_${process.pid}`;
const OBJ = 'tc_task';
const SLOTS = 19;
const bt = (...a: string[]) => spawnSync('bpftool', a, { encoding: 'utf8' });

describe('differential: current as a kernel object (get_current_task_btf fields, task/cgrp storage, find_vma, get_task_stack, task_pt_regs)', function () {
  this.timeout(120_000);
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-task-'));
  before(function () {
    const why = bt('version').error ? 'bpftool is not installed' : process.getuid?.() !== 0 ? 'not root' : kernelBpffs();
    if (why) {
      console.log(`  task helpers differential: SKIPPED: ${why}`);
      this.skip();
    }
    mkdirSync(DIR, { recursive: true });
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  it(`${OBJ}: return value, output bytes and every helper's answer, packet by packet`, () => {
    const file = join(REPO_ROOT, 'bpf', `${OBJ}.o`);
    const pins = `${DIR}/${OBJ}`;
    const mapPins = `${DIR}/${OBJ}_maps`;
    const loaded = bt('prog', 'loadall', file, pins, 'pinmaps', mapPins);
    assert.equal(loaded.status, 0, loaded.stderr);
    const k = new Kernel({ ncpus: 1, runtime: { seed: 1, clock: () => 1n } });
    const l = loadCollection(k.process, readCollection(readFileSync(file), { name: `${OBJ}.o` }));
    let compared = 0;
    for (const [name, pkt] of Object.entries(PACKETS)) {
      const inFile = join(tmp, 'in.bin');
      const outFile = join(tmp, 'out.bin');
      writeFileSync(inFile, pkt);
      rmSync(outFile, { force: true });
      const kr = bt('-j', 'prog', 'run', 'pinned', `${pins}/${OBJ}`, 'data_in', inFile, 'data_out', outFile);
      const a = { prog_fd: l.programs.get(OBJ)!, data_in: pkt, data_out: new Uint8Array(16384), retval: 0, data_size_out: 0 };
      const r = k.bpf('BPF_PROG_TEST_RUN', a);
      if (kr.status !== 0) {
        assert.ok(r < 0, `${name}: the kernel refused (${kr.stdout.trim()}), bpfbox ran it`);
        continue;
      }
      assert.equal(r, 0, `${name}: the kernel ran it, bpfbox refused: ${r}`);
      assert.equal(a.retval, JSON.parse(kr.stdout).retval, `${name}: return value`);
      assert.equal(
        Buffer.from(a.data_out.subarray(0, a.data_size_out)).toString('hex'),
        readFileSync(outFile).toString('hex'),
        `${name}: data_out`,
      );
      const theirs = kernelSlots(bt('-j', 'map', 'dump', 'pinned', `${mapPins}/results`).stdout);
      const ours = bpfboxSlots(k, l.maps.get('results')!, theirs.length);
      assert.equal(showSlots(ours.slice(0, SLOTS)), showSlots(theirs.slice(0, SLOTS)), `${name}: results`);
      // the answers the program was written for (the kernel's, on 6.18): pid/tgid/comm agree, 7 then 12, 0 then -ENOENT ...
      assert.equal(
        showSlots(theirs.slice(0, SLOTS)),
        '0:1 1:1 2:1 3:1 4:7 5:12 6:0 7:-2 8:0 9:-22 10:0 11:-2 12:0 13:-22 14:-22 15:0 16:1 17:0 18:-22',
      );
      compared++;
    }
    assert.ok(compared >= 4, `${OBJ}: only ${compared} packets ran in the kernel`);
  });
});
