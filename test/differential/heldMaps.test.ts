import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bpfbox, tempState } from '../appliance/cliSupport.js';
import { kernelBpffs } from '../support/bpffs.js';
import { REPO_ROOT } from '../support/paths.js';

/**
 * Differential: the maps a pinned program holds, with no pin of their own. The same bpftool
 * commands run against the running kernel and against bpfbox, each command a new process:
 * `prog loadall` without pinmaps, then the program's map_ids, `map show id` of each, three
 * test runs, the counters the runs left (`map dump id`, and `name`), a map pinned afterwards,
 * and the maps going away when the program's pin is removed. Ids differ between the two, so
 * maps are matched by name.
 */
const DIR = `/sys/fs/bpf/bpfbox_held_${process.pid}`;
const OBJ = join(REPO_ROOT, 'bpf', 'xdp_stats.o');

/** A 42-byte IPv4/UDP frame: ethertype 0x0800, protocol 17. */
const FRAME = Buffer.from('ffffffffffff00000000000108004500001c000000004011f97dc0a80001c0a800020035003500080000', 'hex');

type Side = (...args: string[]) => { out: string; err: string; code: number };

const kernelSide: Side = (...args) => {
  const r = spawnSync('bpftool', args, { encoding: 'utf8' });
  return { out: r.stdout, err: r.stderr, code: r.status ?? -1 };
};

interface MapShown {
  id: number;
  name: string;
  type: string;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  frozen?: number;
}

/** what a side reports, ids replaced by names */
function heldMaps(side: Side, prog: string): Record<string, Omit<MapShown, 'id'>> {
  const p = side('-j', 'prog', 'show', 'pinned', prog);
  assert.equal(p.code, 0, p.err);
  const ids = (JSON.parse(p.out) as { map_ids: number[] }).map_ids;
  const out: Record<string, Omit<MapShown, 'id'>> = {};
  for (const id of ids) {
    const m = side('-j', 'map', 'show', 'id', String(id));
    assert.equal(m.code, 0, `map show id ${id}: ${m.err}`);
    const { name, type, bytes_key, bytes_value, max_entries, frozen } = JSON.parse(m.out) as MapShown;
    // the kernel names an object's .rodata by the object's name, cut to 15 bytes: the same here
    out[name] = { name, type, bytes_key, bytes_value, max_entries, frozen: frozen ?? 0 };
  }
  return out;
}

function idOf(side: Side, name: string): number {
  const r = side('-j', 'map', 'show', 'name', name);
  assert.equal(r.code, 0, r.err);
  const v = JSON.parse(r.out) as MapShown | MapShown[];
  return (Array.isArray(v) ? v[0] : v).id;
}

/** proto_stats' counters for UDP over IPv4, summed over CPUs, as `map dump -j` shows them */
function udpCounters(side: Side, ref: string[]): { packets: number; bytes: number } {
  const r = side('-j', 'map', 'dump', ...ref);
  assert.equal(r.code, 0, r.err);
  const rows = JSON.parse(r.out) as {
    formatted?: { key: { ethertype: number; ipproto: number }; values: { value: { packets: number; bytes: number } }[] };
  }[];
  const row = rows.find((e) => e.formatted?.key.ethertype === 0x0800 && e.formatted.key.ipproto === 17);
  assert.ok(row?.formatted, `no UDP row in ${r.out}`);
  return row.formatted.values.reduce((a, v) => ({ packets: a.packets + v.value.packets, bytes: a.bytes + v.value.bytes }), {
    packets: 0,
    bytes: 0,
  });
}

describe('differential: maps held by a pinned program, as the kernel keeps them', function () {
  this.timeout(120_000);
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-held-'));
  const pkt = join(tmp, 'udp.bin');
  let state = '';
  before(function () {
    const why = kernelSide('version').code !== 0 ? 'bpftool is not installed' : process.getuid?.() !== 0 ? 'not root' : kernelBpffs();
    if (why) {
      console.log(`  held maps differential: SKIPPED: ${why}`);
      this.skip();
    }
    writeFileSync(pkt, FRAME);
    state = tempState();
    rmSync(DIR, { recursive: true, force: true });
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
    if (state) rmSync(state, { recursive: true, force: true });
  });

  it('listed, opened by id and name, written by test runs in other processes, pinned later, gone with the program', async () => {
    const bpf: Side = (...args) => bpfbox(state, ...args);
    const prog = `${DIR}/x/xdp_stats`;
    for (const [what, side] of [
      ['kernel', kernelSide],
      ['bpfbox', bpf],
    ] as const) {
      if (side === bpf) mkdirSync(join(state, DIR.slice('/sys/fs/bpf/'.length)), { recursive: true });
      else mkdirSync(DIR);
      const l = side('prog', 'loadall', OBJ, `${DIR}/x`);
      assert.equal(l.code, 0, `${what}: loadall: ${l.err}`);
    }
    // every map the program holds is an object with an id, the same on both
    const kMaps = heldMaps(kernelSide, prog);
    assert.deepEqual(heldMaps(bpf, prog), kMaps);
    assert.ok(Object.keys(kMaps).includes('proto_stats'));

    // three runs, each side's in its own process; the counters are the program's, kept between processes
    for (const side of [kernelSide, bpf]) {
      const r = side('prog', 'run', 'pinned', prog, 'data_in', pkt, 'repeat', '3');
      assert.equal(r.code, 0, r.err);
    }
    const kCount = udpCounters(kernelSide, ['id', String(idOf(kernelSide, 'proto_stats'))]);
    assert.deepEqual(kCount, { packets: 3, bytes: 3 * FRAME.length }); // hand-computed: the frame's length, three times
    assert.deepEqual(udpCounters(bpf, ['id', String(idOf(bpf, 'proto_stats'))]), kCount);
    assert.deepEqual(udpCounters(bpf, ['name', 'proto_stats']), kCount);

    // a held map pinned afterwards: the program still writes the same map
    for (const side of [kernelSide, bpf]) {
      const id = String(idOf(side, 'proto_stats'));
      assert.equal(side('map', 'pin', 'id', id, `${DIR}/ps`).code, 0);
      assert.equal(side('prog', 'run', 'pinned', prog, 'data_in', pkt).code, 0);
      assert.deepEqual(udpCounters(side, ['pinned', `${DIR}/ps`]), { packets: 4, bytes: 4 * FRAME.length });
    }

    // the program's pin removed: the maps only it held go (the kernel frees them after a grace period); the pinned one stays
    const kSizeHist = idOf(kernelSide, 'size_hist');
    const bSizeHist = idOf(bpf, 'size_hist');
    rmSync(`${DIR}/x/xdp_stats`);
    rmSync(join(state, DIR.slice('/sys/fs/bpf/'.length), 'x', 'xdp_stats'));
    let k = kernelSide('map', 'show', 'id', String(kSizeHist));
    for (let i = 0; i < 50 && k.code === 0; i++) {
      await new Promise((ok) => setTimeout(ok, 100));
      k = kernelSide('map', 'show', 'id', String(kSizeHist));
    }
    assert.notEqual(k.code, 0, 'the kernel still lists size_hist');
    assert.notEqual(bpf('map', 'show', 'id', String(bSizeHist)).code, 0, 'bpfbox still lists size_hist');
    for (const side of [kernelSide, bpf])
      assert.deepEqual(udpCounters(side, ['pinned', `${DIR}/ps`]), { packets: 4, bytes: 4 * FRAME.length });
  });
});
