import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { Kernel } from '../../kernel/kernel.js';
import { REPO_ROOT } from '../support/paths.js';
import { kernelBpffs } from '../support/bpffs.js';

/**
 * Differential for the bpf_timer helpers (hooks/helpers/timer.ts): bpf/xdp_timer.o inits,
 * sets the callback of, starts and cancels the timers of an array element and a hash element
 * (deleted while its timer is armed), keeping every helper's raw answer in `results`; its
 * callback counts its calls in the element, keeps its key + 100 and what cancelling its own
 * timer answered. The packet runs once through `bpftool prog run` on the running kernel; after
 * the callback's 1000 ns have passed (a bounded wait, polling the map), `results` and the array
 * element's count, key and self-cancel are read with bpftool. bpfbox runs the same packet with
 * a clock the test moves past the timer's expiry, then reads the same: both elements whole,
 * the timer's 16 bytes included (userspace sees them as zeros in both).
 */
const DIR = `/sys/fs/bpf/bpfbox_timer_${process.pid}`;
const bt = (...a: string[]) => spawnSync('bpftool', a, { encoding: 'utf8' });
const SLOTS = 18;

describe('differential: bpf_timer helpers against the kernel (init, set_callback, start, cancel; the callback run)', function () {
  this.timeout(60_000);
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-timer-'));
  before(function () {
    const why = bt('version').error ? 'bpftool is not installed' : process.getuid?.() !== 0 ? 'not root' : kernelBpffs();
    if (why) {
      console.log(`  timers differential: SKIPPED: ${why}`);
      this.skip();
    }
    mkdirSync(DIR, { recursive: true });
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  /** elem: struct elem's count, self_cancel and key, from a value's bytes, and the bytes whole (the timer's as userspace sees them). */
  const elem = (v: Buffer) => ({
    count: v.readBigUInt64LE(0),
    selfCancel: v.readBigInt64LE(24),
    key: v.readUInt32LE(32),
    hex: v.toString('hex'),
  });
  const kernelValues = (pin: string) =>
    (JSON.parse(bt('-j', 'map', 'dump', 'pinned', pin).stdout) as { key: string[]; value: string[] }[]).map((e) =>
      Buffer.from(e.value.map((h) => parseInt(h, 16))),
    );

  it('xdp_timer: every helper answer, and what the callback left in the element', async () => {
    const file = join(REPO_ROOT, 'bpf', 'xdp_timer.o');
    const pins = `${DIR}/prog`;
    const mapPins = `${DIR}/maps`;
    assert.equal(bt('prog', 'loadall', file, pins, 'pinmaps', mapPins).status, 0);
    const pkt = new Uint8Array(64);
    const inFile = join(tmp, 'in.bin');
    writeFileSync(inFile, pkt);
    const kr = bt('-j', 'prog', 'run', 'pinned', `${pins}/xdp_timer`, 'data_in', inFile);
    assert.equal(kr.status, 0, kr.stderr);
    // the kernel's callback runs in softirq 1000 ns later: poll, at most 50 times 20 ms
    let theirs = elem(kernelValues(`${mapPins}/timers`)[1]);
    for (let i = 0; i < 50 && theirs.count === 0n; i++) {
      await new Promise((r) => setTimeout(r, 20));
      theirs = elem(kernelValues(`${mapPins}/timers`)[1]);
    }
    const theirResults = kernelValues(`${mapPins}/results`).map((v) => v.readBigInt64LE(0));

    let now = 1n;
    const k = new Kernel({ ncpus: 1, runtime: { seed: 1, clock: () => now } });
    const l = loadCollection(k.process, readCollection(readFileSync(file), { name: 'xdp_timer.o' }));
    const a = { prog_fd: l.programs.get('xdp_timer')!, data_in: pkt, retval: 0 };
    assert.equal(k.bpf('BPF_PROG_TEST_RUN', a), 0);
    assert.equal(a.retval, JSON.parse(kr.stdout).retval, 'return value');
    now += 1_000_000n;
    const look = (map: string, key: number, size: number) => {
      const v = new Uint8Array(size);
      assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: l.maps.get(map)!, key: Uint8Array.from([key, 0, 0, 0]), value: v }), 0);
      return Buffer.from(v);
    };
    const ours = elem(look('timers', 1, 40));
    assert.equal(elem(look('timers', 0, 40)).hex, elem(kernelValues(`${mapPins}/timers`)[0]).hex, 'the element whose init failed');
    const ourResults = Array.from({ length: SLOTS }, (_, i) => look('results', i, 8).readBigInt64LE(0));
    const show = (xs: bigint[]) => xs.map((x, i) => `${i}:${x}`).join(' ');
    assert.equal(show(ourResults), show(theirResults.slice(0, SLOTS)), 'results');
    assert.deepEqual(ours, theirs, 'the element the callback wrote');
    assert.equal(theirs.count, 1n, 'the kernel ran the callback once');
    // the hash element was deleted with its timer armed: gone in both
    assert.equal(kernelValues(`${mapPins}/htimers`).length, 0);
  });
});
