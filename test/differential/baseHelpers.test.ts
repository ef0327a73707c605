import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { cgroup2Mount, hostTask } from '../../kernel/hostTask.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { Kernel } from '../../kernel/kernel.js';
import { REPO_ROOT } from '../support/paths.js';
import { kernelBpffs } from '../support/bpffs.js';
import { bpfboxSlots, kernelSlots, showSlots } from '../support/resultSlots.js';

/**
 * Differential for the base helpers (hooks/helpers/perfEvent.ts, cgroup.ts, pidns.ts,
 * signal.ts, tracing.ts, percpuLookup.ts, xfrm.ts): bpf/tc_base_helpers.o keeps every helper's
 * raw answer in its `results` array; each packet (carrying the pid namespace's dev and ino, a
 * signal, a cgroup level and a cpu) runs through `bpftool prog run` on the running kernel and
 * through bpfbox's test run, and every slot must agree. Both run from this process's cgroup:
 * the suite moves itself into a fresh child cgroup2 directory first (so the ids are not just the
 * root's 1), and bpfbox's task is read from the host after the move (kernel/hostTask.ts).
 */
const DIR = `/sys/fs/bpf/bpfbox_base_${process.pid}`;
const OBJ = 'tc_base_helpers';
/** Slots 0..SLOTS-1 of `results` are written by the program. */
const SLOTS = 37;
const bt = (...a: string[]) => spawnSync('bpftool', a, { encoding: 'utf8' });

/** packet: an Ethernet header, then u64 dev, u64 ino, u32 signal, u32 cgroup level, u32 cpu, padded to 60 bytes. */
function packet(dev: bigint, ino: bigint, sig: number, level: number, cpu: number): Uint8Array {
  const b = Buffer.alloc(60);
  b.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  b.writeBigUInt64LE(dev, 14);
  b.writeBigUInt64LE(ino, 22);
  b.writeUInt32LE(sig, 30);
  b.writeUInt32LE(level, 34);
  b.writeUInt32LE(cpu, 38);
  return b;
}

describe('differential: base helpers against the kernel (perf_event_read, cgroup ids, ns pid/tgid, send_signal, branch snapshot, trace_vprintk, percpu lookup, xfrm state, under_cgroup)', function () {
  this.timeout(120_000);
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-base-'));
  let home: string | undefined;
  let child: string | undefined;
  before(function () {
    const why = bt('version').error ? 'bpftool is not installed' : process.getuid?.() !== 0 ? 'not root' : kernelBpffs();
    if (why) {
      console.log(`  base helpers differential: SKIPPED: ${why}`);
      this.skip();
    }
    mkdirSync(DIR, { recursive: true });
    // a child cgroup of our own, this process moved into it (and back after)
    const mount = cgroup2Mount(readFileSync('/proc/self/mountinfo', 'utf8'));
    const line = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    if (mount && line) {
      home = join(mount, line.slice(3));
      child = join(home, `bpfbox-t-${process.pid}`);
      try {
        mkdirSync(child);
        writeFileSync(join(child, 'cgroup.procs'), String(process.pid));
      } catch (e) {
        console.log(`  base helpers differential: staying in ${home} (cannot move into a child cgroup: ${(e as Error).message})`);
        if (child) rmSync(child, { recursive: false, force: true });
        child = undefined;
      }
    }
  });
  after(() => {
    if (child && home) {
      writeFileSync(join(home, 'cgroup.procs'), String(process.pid));
      rmdirSync(child);
    }
    rmSync(DIR, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  it(`${OBJ}: return value and every helper's answer, packet by packet`, () => {
    const file = join(REPO_ROOT, 'bpf', `${OBJ}.o`);
    const pins = `${DIR}/${OBJ}`;
    const mapPins = `${DIR}/${OBJ}_maps`;
    const load = bt('prog', 'loadall', file, pins, 'pinmaps', mapPins);
    assert.equal(load.status, 0, load.stderr);
    const task = hostTask();
    if (child) assert.equal(task.cgroupIds[task.cgroupIds.length - 1], statSync(child, { bigint: true }).ino);
    const k = new Kernel({ ncpus: 1, runtime: { seed: 1, clock: () => 1n, task } });
    const l = loadCollection(k.process, readCollection(readFileSync(file), { name: `${OBJ}.o` }));
    const ns = statSync('/proc/self/ns/pid', { bigint: true });
    const depth = task.cgroupIds.length - 1;
    const cases: Record<string, Uint8Array> = {
      'own pid namespace, signal 0, own level, cpu 0': packet(ns.dev, ns.ino, 0, depth, 0),
      'signal 65 (invalid), level 0, cpu 1 << 20': packet(ns.dev, ns.ino, 65, 0, 1 << 20),
      'signal 0xffffffff, a deeper level': packet(ns.dev, ns.ino, 0xffffffff, depth + 1, 0),
      'another namespace (ino + 1), level 1': packet(ns.dev, ns.ino + 1n, 0, 1, 0),
    };
    for (const [name, pkt] of Object.entries(cases)) {
      const inFile = join(tmp, 'in.bin');
      writeFileSync(inFile, pkt);
      const kr = bt('-j', 'prog', 'run', 'pinned', `${pins}/${OBJ}`, 'data_in', inFile);
      assert.equal(kr.status, 0, `${name}: bpftool prog run: ${kr.stderr}`);
      const a = { prog_fd: l.programs.get(OBJ)!, data_in: pkt, retval: 0 };
      assert.equal(k.bpf('BPF_PROG_TEST_RUN', a), 0, `${name}: bpfbox refused the run`);
      assert.equal(a.retval, JSON.parse(kr.stdout).retval, `${name}: return value`);
      const theirs = kernelSlots(bt('-j', 'map', 'dump', 'pinned', `${mapPins}/results`).stdout);
      const ours = bpfboxSlots(k, l.maps.get('results')!, SLOTS);
      assert.equal(showSlots(ours), showSlots(theirs.slice(0, SLOTS)), `${name}: results`);
    }
  });
});
