import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { Kernel } from '../../kernel/kernel.js';
import { mapsJson } from '../../appliance/datapath/mapsJson.js';
import { summaryText } from '../../appliance/cli/replayCmd.js';
import { emptySummary } from '../../appliance/datapath/pipeline.js';
import { toJson } from '../../maps/typeDesc.js';
import { kernelBpffs } from '../support/bpffs.js';
import { REPO_ROOT } from '../support/paths.js';

/**
 * Replay's maps (summary and --json) are rendered as `map dump` renders them: bpftool's JSON
 * elements with "formatted" where BTF describes the map, checked against hand-computed values
 * and against bpftool's own dump of the same map in the kernel after the same updates.
 */
const OBJ = join(REPO_ROOT, 'bpf', 'xdp_stats.o');
const u64s = (...xs: bigint[]) => new Uint8Array(new BigUint64Array(xs).buffer);
const bytes = (b: Uint8Array) => [...b].map((x) => `0x${x.toString(16).padStart(2, '0')}`);

/** UPDATES: the same writes bpftool makes in the kernel (a per-CPU map gets the value on every CPU, as `bpftool map update` does). */
const UPDATES: readonly { map: string; key: number[]; value: Uint8Array }[] = [
  { map: 'proto_stats', key: [0x00, 0x08, 17, 0], value: u64s(3n, 180n) },
  { map: 'size_hist', key: [1, 0, 0, 0], value: u64s(7n) },
  { map: 'size_hist', key: [6, 0, 0, 0], value: u64s(2n ** 60n + 1n) },
  { map: 'sampled', key: [0, 0, 0, 0], value: u64s(42n) },
];

function ours(ncpus: number) {
  const k = new Kernel({ ncpus });
  const loaded = loadCollection(k.process, readCollection(readFileSync(OBJ), { name: 'xdp_stats' }));
  for (const u of UPDATES) {
    const percpu = u.map !== 'sampled';
    const value = percpu ? new Uint8Array(((u.value.length + 7) & ~7) * ncpus) : u.value;
    if (percpu) for (let c = 0; c < ncpus; c++) value.set(u.value, c * ((u.value.length + 7) & ~7));
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: loaded.maps.get(u.map)!, key: Uint8Array.from(u.key), value, flags: 0 }), 0);
  }
  return mapsJson(k, loaded.maps);
}

describe('replay: maps typed as map dump types them', () => {
  it('--json: bpftool elements, typed values from BTF, keys in map order (hand-computed)', () => {
    const m = ours(2);
    assert.deepEqual(m.proto_stats, [
      {
        key: ['0x00', '0x08', '0x11', '0x00'],
        values: [0, 1].map((cpu) => ({ cpu, value: bytes(u64s(3n, 180n)) })),
        formatted: {
          key: { ethertype: 0x0800n, ipproto: 17n, pad: 0n },
          values: [0n, 1n].map((cpu) => ({ cpu, value: { packets: 3n, bytes: 180n } })),
        },
      },
    ]);
    assert.deepEqual(
      m.size_hist.map((e) => e.formatted!.key),
      Array.from({ length: 16 }, (_, i) => BigInt(i)),
      'array keys by index',
    );
    assert.deepEqual(m.sampled, [{ key: bytes(Uint8Array.of(0, 0, 0, 0)), value: bytes(u64s(42n)), formatted: { key: 0n, value: 42n } }]);
    assert.match(toJson(m.size_hist[6]), /"value":1152921504606846977\}/, 'a u64 above 2^53 prints exactly');
  });

  it('the text summary: typed keys and values, per-CPU values summed, the first 8 in map order and what is left out', () => {
    const text = summaryText({ ...emptySummary({ name: 'xdp_stats', type: 6 }, 2), maps: ours(2) });
    const lines = text.split('\n');
    const at = (name: string) => lines.slice(lines.findIndex((l) => l.startsWith(`map ${name}:`)));
    assert.deepEqual(at('proto_stats').slice(0, 2), [
      'map proto_stats: 1 entry',
      '  key {"ethertype":2048,"ipproto":17,"pad":0}  value {"packets":6,"bytes":360} (summed over 2 CPUs)',
    ]);
    assert.deepEqual(at('size_hist').slice(0, 9), [
      'map size_hist: 16 entries (the first 8 in map order; keys 8..15 left out: --json has them all)',
      ...Array.from({ length: 8 }, (_, i) => `  key ${i}  value ${[0n, 14n, 0n, 0n, 0n, 0n, 2n ** 61n + 2n, 0n][i]} (summed over 2 CPUs)`),
    ]);
    assert.deepEqual(at('sampled').slice(0, 2), ['map sampled: 1 entry', '  key 0  value 42']);
  });
});

describe('differential: replay maps match bpftool map dump -j in the kernel', function () {
  this.timeout(60_000);
  const DIR = `/sys/fs/bpf/bpfbox_rmaps_${process.pid}`;
  const bt = (...a: string[]) => spawnSync('bpftool', a, { encoding: 'utf8' });
  before(function () {
    const why = bt('version').error ? 'bpftool is not installed' : process.getuid?.() !== 0 ? 'not root' : kernelBpffs();
    if (why) {
      console.log(`  replay maps differential: SKIPPED: ${why}`);
      this.skip();
    }
    mkdirSync(DIR, { recursive: true });
  });
  after(() => rmSync(DIR, { recursive: true, force: true }));

  it('xdp_stats.o: proto_stats (per-CPU hash), size_hist (per-CPU array), sampled (array) after the same updates', () => {
    const r = bt('prog', 'loadall', OBJ, `${DIR}/p`, 'pinmaps', `${DIR}/m`);
    assert.equal(r.status, 0, r.stderr);
    for (const u of UPDATES) {
      const args = ['map', 'update', 'pinned', `${DIR}/m/${u.map}`, 'key', ...u.key.map(String), 'value', ...[...u.value].map(String)];
      assert.equal(bt(...args).status, 0, `bpftool ${args.join(' ')}`);
    }
    // the kernel's value arrays have one entry per possible CPU
    const ncpus = JSON.parse(bt('-j', 'map', 'dump', 'pinned', `${DIR}/m/size_hist`).stdout)[0].values.length as number;
    const m = ours(ncpus);
    for (const name of ['proto_stats', 'size_hist', 'sampled'] as const) {
      const kernel = JSON.parse(bt('-j', 'map', 'dump', 'pinned', `${DIR}/m/${name}`).stdout);
      assert.deepEqual(JSON.parse(toJson(m[name])), kernel, name);
    }
  });
});
