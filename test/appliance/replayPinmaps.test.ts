import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bpfbox, tempState } from './cliSupport.js';
import { REPO_ROOT } from '../support/paths.js';
import { FilePinStore } from '../../appliance/bpffs/filePinStore.js';
import { Kernel } from '../../kernel/kernel.js';

const SAMPLE = join(REPO_ROOT, 'pcaps', 'sample.pcap');
const OBJ = join(REPO_ROOT, 'bpf', 'xdp_stats.o');

/**
 * countByProto counts a classic pcap's Ethernet frames by (ethertype, IP protocol) with their
 * lengths, read here byte by byte: the independent count xdp_stats' proto_stats must equal.
 */
function countByProto(file: string): Map<string, { packets: number; bytes: number }> {
  const b = readFileSync(file);
  assert.equal(b.readUInt32LE(0), 0xa1b2c3d4, 'a little-endian microsecond pcap');
  const out = new Map<string, { packets: number; bytes: number }>();
  for (let o = 24; o + 16 <= b.length; ) {
    const incl = b.readUInt32LE(o + 8);
    const f = b.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    const et = f.readUInt16BE(12);
    const proto = et === 0x0800 ? f[23] : et === 0x86dd ? f[20] : 0;
    const k = `${et}/${proto}`;
    const c = out.get(k) ?? { packets: 0, bytes: 0 };
    out.set(k, { packets: c.packets + 1, bytes: c.bytes + f.length });
  }
  return out;
}

interface DumpRow {
  formatted: { key: { ethertype: number; ipproto: number }; values: { cpu: number; value: { packets: number; bytes: number } }[] };
}

describe('replay --pinmaps: the maps as a run left them, for map dump afterwards', function () {
  this.timeout(120_000);
  let state = '';
  let tmp = '';
  beforeEach(() => {
    state = tempState();
    tmp = mkdtempSync(join(tmpdir(), 'bpfbox-pinmaps-'));
  });
  afterEach(() => {
    rmSync(state, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  const dumpSums = (dir: string) => {
    const r = bpfbox(state, '-j', 'map', 'dump', 'pinned', `${dir}/proto_stats`);
    assert.equal(r.code, 0, r.err);
    const rows = JSON.parse(r.out) as DumpRow[];
    return {
      cpus: rows[0].formatted.values.length,
      sums: new Map(
        rows.map((e) => [
          `${e.formatted.key.ethertype}/${e.formatted.key.ipproto}`,
          e.formatted.values.reduce((a, v) => ({ packets: a.packets + v.value.packets, bytes: a.bytes + v.value.bytes }), {
            packets: 0,
            bytes: 0,
          }),
        ]),
      ),
    };
  };

  it('4 workers on a machine of fewer CPUs: one slot per worker, sums equal to a count of the capture', () => {
    const r = bpfbox(state, 'replay', SAMPLE, '--obj', OBJ, '--workers', '4', '--pinmaps', '/sys/fs/bpf/run1');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /maps pinned: \/sys\/fs\/bpf\/run1\/xdp_stat_rodata, \/sys\/fs\/bpf\/run1\/proto_stats/);
    const { cpus, sums } = dumpSums('/sys/fs/bpf/run1');
    assert.equal(cpus, 4);
    assert.deepEqual(sums, countByProto(SAMPLE));
    // listed with the others, under ids of the state directory
    const show = bpfbox(state, '-j', '-f', 'map', 'show');
    const names = (JSON.parse(show.out) as { name: string; pinned?: string[] }[]).map((m) => `${m.name} ${m.pinned?.join(',')}`);
    assert.ok(names.includes('proto_stats /sys/fs/bpf/run1/proto_stats'), names.join('; '));
  });

  it('a second run replaces the first run’s pins; a config program’s pinmaps is honoured', () => {
    assert.equal(bpfbox(state, 'replay', SAMPLE, '--obj', OBJ, '--workers', '1', '--pinmaps', '/sys/fs/bpf/a/b').code, 0);
    assert.equal(bpfbox(state, 'replay', SAMPLE, '--obj', OBJ, '--workers', '1', '--pinmaps', '/sys/fs/bpf/a/b').code, 0);
    assert.deepEqual(dumpSums('/sys/fs/bpf/a/b').sums, countByProto(SAMPLE), 'replaced, not added to');
    const cfg = join(tmp, 'c.yaml');
    writeFileSync(
      cfg,
      `programs:\n  - name: s\n    obj: ${OBJ}\n    pinmaps: /sys/fs/bpf/fromcfg\nsources:\n  - program: s\n    captures: [${SAMPLE}]\n`,
    );
    const r = bpfbox(state, 'replay', '--config', cfg, '--workers', '2');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(dumpSums('/sys/fs/bpf/fromcfg').sums, countByProto(SAMPLE));
  });

  it('a directory outside /sys/fs/bpf is one line naming --pinmaps, before any packet', () => {
    const r = bpfbox(state, 'replay', SAMPLE, '--obj', OBJ, '--pinmaps', '/tmp/x');
    assert.equal(r.code, 1);
    assert.equal(
      r.err.trim(),
      'Error: --pinmaps /tmp/x: expected a directory under /sys/fs/bpf (the state directory’s bpffs)'.replace('’', "'"),
    );
    assert.equal(r.out, '');
  });
});

describe('FilePinStore: a held map moves with its pins', () => {
  it('pinned from held, unpinned back to held while the program holds it, gone with the program', () => {
    const state = tempState();
    try {
      const store = new FilePinStore(state);
      const k = new Kernel({ ncpus: 2, pins: store, allocId: store.allocId, onWrite: (o) => store.touched(o) });
      store.attach(k);
      const loaded = bpfbox(state, 'prog', 'loadall', OBJ, '/sys/fs/bpf/x');
      assert.equal(loaded.code, 0, loaded.err);
      const held = () => store.heldPaths().map((p) => p.replace(/.*map-/, ''));
      const prog = JSON.parse(bpfbox(state, '-j', 'prog', 'show', 'pinned', '/sys/fs/bpf/x/xdp_stats').out) as { map_ids: number[] };
      assert.deepEqual(held().map(Number).sort(), [...prog.map_ids].sort());
      const id = prog.map_ids[0];
      assert.equal(bpfbox(state, 'map', 'pin', 'id', String(id), '/sys/fs/bpf/m').code, 0);
      assert.ok(!held().includes(String(id)), 'the held file became the pin');
      assert.equal(k.unlink('/sys/fs/bpf/m'), 0);
      assert.ok(held().includes(String(id)), 'held again: the program still holds it');
      assert.equal(k.unlink('/sys/fs/bpf/x/xdp_stats'), 0);
      assert.deepEqual(held(), [], 'the program gone: so are the maps only it held');
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});
