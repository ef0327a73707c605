import { hexMaps } from '../support/hexMaps.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { testRun } from '../../hooks/testRun.js';
import { Kernel } from '../../kernel/kernel.js';
import type { ProgObject } from '../../kernel/objects.js';
import { flowHash } from '../../appliance/datapath/flowHash.js';
import { applyMapInit, type MapInit, MapInitError } from '../../appliance/datapath/mapInit.js';
import { mapsJson } from '../../appliance/datapath/mapsJson.js';
import { replay } from '../../appliance/datapath/replay.js';
import { PcapngReader } from '../../pcaps/pcapngReader.js';
import { PcapWriter } from '../../pcaps/pcapWriter.js';
import { synthPackets } from '../../pcaps/synth.js';
import { PACKETS } from '../support/packets.js';
import { REPO_ROOT } from '../support/paths.js';

const obj = (name: string) => join(REPO_ROOT, 'bpf', `${name}.o`);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The packets every comparison runs: synthetic traffic and the fidelity set (not its runt: test-run refuses it). */
function capture(dir: string): { path: string; packets: Uint8Array[] } {
  const packets = [
    ...Array.from(synthPackets({ packets: 400, seed: 11 }), (p) => p.data.slice()),
    ...Object.entries(PACKETS)
      .filter(([k]) => !k.startsWith('runt'))
      .map(([, v]) => v),
  ];
  return { path: writeCapture(join(dir, 'in.pcap'), packets), packets };
}

function writeCapture(path: string, packets: readonly Uint8Array[]): string {
  const w = new PcapWriter(path, { nanosecond: true });
  packets.forEach((data, i) => w.write({ data, tsSec: 1_767_225_600 + i, tsNsec: i }));
  w.close();
  return path;
}

/** perCpuTotals folds per-CPU values (lists of little-endian u64 words) into one total per key. */
function totals(maps: Record<string, Record<string, string | string[]>>): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [name, entries] of Object.entries(maps)) {
    out[name] = {};
    for (const [k, v] of Object.entries(entries)) {
      if (typeof v === 'string') {
        out[name][k] = v;
        continue;
      }
      const sum = Buffer.alloc(v[0].length / 2);
      for (const cpu of v) {
        const b = Buffer.from(cpu, 'hex');
        for (let o = 0; o + 8 <= b.length; o += 8)
          sum.writeBigUInt64LE((sum.readBigUInt64LE(o) + b.readBigUInt64LE(o)) & 0xffffffffffffffffn, o);
      }
      out[name][k] = sum.toString('hex');
    }
  }
  return out;
}

/** reference: the same packets, one BPF_PROG_TEST_RUN each, in a kernel of its own (the kernel-checked path). */
function reference(name: string, prog: string, packets: readonly Uint8Array[], init?: MapInit) {
  const k = new Kernel({ ncpus: 2 });
  const loaded = loadCollection(k.process, readCollection(readFileSync(obj(name)), { name }));
  if (init) applyMapInit(k, init, loaded.maps, loaded.programs, 'init');
  const p = k.process.fds.get(loaded.programs.get(prog)!)!.obj as ProgObject;
  const xdp = p.type === 6;
  const runs = packets.map((data) => {
    if (!xdp) return testRun(k.runtime(0), p, { data });
    // test-run's data_out starts at data_meta, a transmitted packet at data: ctx_out says how far apart
    const ctx = new Uint8Array(24);
    new DataView(ctx.buffer).setUint32(4, data.length, true);
    const r = testRun(k.runtime(0), p, { data, ctx });
    return { ...r, data: r.data.subarray(new DataView(r.ctx.buffer).getUint32(0, true)) };
  });
  return { runs, maps: hexMaps(mapsJson(k, loaded.maps)) };
}

describe('replay', function () {
  this.timeout(120_000);
  let dir: string;
  let cap: { path: string; packets: Uint8Array[] };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-replay-'));
    cap = capture(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const CASES: readonly [string, string, MapInit?][] = [
    [
      'lpm_firewall',
      'xdp_firewall',
      {
        maps: {
          blocked: [
            ['100000000a010000', '01000000'],
            ['08000000c0a80000', '01000000'],
          ],
        },
      },
    ],
    ['xdp_encap', 'xdp_encap'],
    ['xdp_adjust', 'xdp_adjust'],
    ['tc_nat', 'tc_nat'],
    ['tc_proto', 'tc_proto'],
    ['xdp_frags', 'xdp_frags'],
  ];
  for (const [name, prog, init] of CASES) {
    it(`${name}: on 2 workers, every packet's verdict and bytes as one test run each gives them, and the same maps`, async () => {
      const out = join(dir, `${name}.pcapng`);
      // an skb test run takes at most 3712 bytes (replay's skbs are linear up to 64 KiB)
      const packets = name.startsWith('tc_') ? cap.packets.filter((p) => p.length <= 3712) : cap.packets;
      const path = name.startsWith('tc_') ? writeCapture(join(dir, `${name}.pcap`), packets) : cap.path;
      const s = await replay({
        captures: [path],
        obj: obj(name),
        prog,
        workers: 2,
        out,
        mapInit: init ? { init, where: 'init' } : undefined,
      });
      const ref = reference(name, prog, packets, init);
      const r = new PcapngReader(out, { readOptions: true });
      const got: [string, number][] = [];
      for (let p = r.next(); p; p = r.next()) got.push([hex(p.data), Number(Buffer.from(p.verdicts![0].subarray(1)).readBigInt64LE())]);
      r.close();
      assert.equal(got.length, packets.length);
      ref.runs.forEach((run, i) => assert.deepEqual(got[i], [hex(run.data), run.retval | 0], `packet ${i}`));
      assert.equal(s.packets, packets.length);
      assert.deepEqual(totals(hexMaps(s.maps)), totals(ref.maps));
      assert.equal(
        s.per_cpu.reduce((a, b) => a + b, 0),
        packets.length,
      );
      assert.ok(
        s.per_cpu.every((n) => n > 0),
        'both workers ran packets',
      );
    });
  }

  it('a socket filter sees the packet at L2, as on a packet socket: counts by the byte at offset 23 (hand-computed)', async () => {
    const s = await replay({ captures: [cap.path], obj: obj('sock_proto'), workers: 2 });
    const want: Record<string, bigint> = {};
    // LD_ABS past the end ends the program with 0: the packet is dropped and not counted
    for (const p of cap.packets) if (p.length > 23) want[p[23]] = (want[p[23]] ?? 0n) + 1n;
    const short = cap.packets.filter((p) => p.length <= 23).length;
    const counts = Object.fromEntries(
      Object.entries(hexMaps(s.maps).proto_count)
        .map(([k, v]) => [Buffer.from(k, 'hex').readUInt32LE(), Buffer.from(v as string, 'hex').readBigUInt64LE()])
        .filter(([, v]) => v !== 0n),
    );
    assert.deepEqual(counts, Object.fromEntries(Object.entries(want).map(([k, v]) => [Number(k), v])));
    assert.deepEqual(s.verdict_names, { 'keep all': cap.packets.length - short, drop: short });
    assert.ok(short > 0);
  });

  it('the flow hash is symmetric, and a flow keeps to one worker in capture order', async () => {
    for (const p of cap.packets.slice(0, 400)) {
      const b = Uint8Array.from(p);
      if (((b[12] << 8) | b[13]) !== 0x0800) continue;
      const r = Uint8Array.from(b);
      r.set(b.subarray(30, 34), 26); // swap addresses
      r.set(b.subarray(26, 30), 30);
      r.set(b.subarray(36, 38), 34); // and ports
      r.set(b.subarray(34, 36), 36);
      assert.equal(flowHash(r), flowHash(b));
    }
    // each packet's CPU is its pcapng epb_queue: every flow (5-tuple) keeps to one
    const out = join(dir, 'flows.pcapng');
    const simple = await replay({ captures: [cap.path], obj: obj('xdp_simple'), workers: 2, out });
    // xdp_simple counts by bpf_get_smp_processor_id(): the worker is the CPU the program sees
    const rxcnt = (cpu: number) =>
      Number(
        Buffer.from(
          hexMaps(simple.maps).rxcnt[Buffer.from(new Uint32Array([cpu]).buffer).toString('hex')] as string,
          'hex',
        ).readBigUInt64LE(),
      );
    assert.deepEqual([rxcnt(0), rxcnt(1)], simple.per_cpu);
    const r = new PcapngReader(out, { readOptions: true });
    const cpuOf = new Map<string, Set<number>>();
    const cpus = new Set<number>();
    for (let p = r.next(); p; p = r.next()) {
      const d = p.data;
      const key = d[12] === 8 && d[13] === 0 ? hex(d.subarray(23, 38)) : hex(d.subarray(0, 14));
      if (!cpuOf.has(key)) cpuOf.set(key, new Set());
      cpuOf.get(key)!.add(p.queue!);
      cpus.add(p.queue!);
    }
    r.close();
    assert.deepEqual([...cpus].sort(), [0, 1]);
    for (const [k, set] of cpuOf) assert.equal(set.size, 1, `flow ${k} ran on CPUs ${[...set]}`);
  });

  it('--deterministic: identical outputs on every run; with one worker identical maps too', async () => {
    const runs: { maps: Record<string, unknown>; verdicts: Record<string, number>; out: string }[] = [];
    for (const workers of [2, 2, 1, 1]) {
      const out = join(dir, `det${runs.length}.pcapng`);
      const s = await replay({ captures: [cap.path], obj: obj('xdp_stats'), workers, deterministic: true, seed: 5, out });
      runs.push({ maps: hexMaps(s.maps), verdicts: s.verdicts, out: readFileSync(out).toString('hex') });
    }
    // two CPUs updating one shared entry (last_seen of a source with flows on both) race, as in the kernel
    const unshared = (r: (typeof runs)[0]) => ({ ...r, maps: { ...r.maps, last_seen: undefined } });
    assert.deepEqual(unshared(runs[0]), unshared(runs[1]));
    assert.deepEqual(runs[2], runs[3]);
    assert.notEqual((runs[0].maps.sampled as Record<string, string>)['00000000'], '0000000000000000');
    // with the clock from packet timestamps, last_seen is each source's last packet
    const last: Record<string, string> = {};
    cap.packets.forEach((p, i) => {
      if (p.length >= 34 && p[12] === 8 && p[13] === 0) {
        const b = Buffer.alloc(8);
        b.writeBigUInt64LE(BigInt(1_767_225_600 + i) * 1_000_000_000n + BigInt(i));
        last[hex(p.subarray(26, 30))] = b.toString('hex');
      }
    });
    assert.deepEqual(runs[2].maps.last_seen, last);
  });

  it('a program that would fault is refused at load by the verifier, as the kernel refuses it', async () => {
    // test/fixtures/bpf/xdp_fault.o dereferences a lookup without the NULL check
    await assert.rejects(
      replay({ captures: [cap.path], obj: join(REPO_ROOT, 'test', 'fixtures', 'bpf', 'xdp_fault.o'), workers: 2 }),
      (e: unknown) =>
        e instanceof Error && /xdp_fault: EACCES/.test(e.message) && /R0 invalid mem access 'map_value_or_null'/.test(e.message),
    );
  });

  it('--map-init errors name the entry, the field and the sizes', async () => {
    const bad = (init: MapInit, re: RegExp) =>
      assert.rejects(
        replay({ captures: [cap.path], obj: obj('lpm_firewall'), workers: 1, mapInit: { init, where: 'init.json' } }),
        (e: unknown) => e instanceof MapInitError && re.test(e.message),
      );
    await bad({ maps: { blocked: [['10000000', '01000000']] } }, /^init\.json: maps\.blocked\[0\]: key: expected 8 bytes, got 4$/);
    await bad({ maps: { blocked: [['100000000a010000', 'zz']] } }, /maps\.blocked\[0\]: value: "zz" is not hex bytes/);
    await bad({ maps: { nosuch: [] } }, /maps\.nosuch: no map named nosuch/);
    await bad({ prog_array: { blocked: { 0: 'nosuch' } } }, /prog_array\.blocked\.0: no program named nosuch/);
  });

  it('--engine jit: the same verdicts, bytes and maps as the interpreter', async () => {
    // one worker: with two, an entry both CPUs write in one window races (as in the kernel)
    for (const name of ['lpm_firewall', 'xdp_stats', 'sock_proto']) {
      const runs = [];
      for (const engine of ['interpreter', 'jit'] as const) {
        const s = await replay({ captures: [cap.path], obj: obj(name), workers: 1, engine, deterministic: true });
        runs.push({ verdicts: s.verdict_names, bytes: s.bytes, maps: totals(hexMaps(s.maps)) });
      }
      assert.deepEqual(runs[1], runs[0], name);
    }
  });

  it('tail calls through the prog array the object fills, and one --map-init refills', async () => {
    // xdp_dispatch tail-calls slot (length & 1): 0 holds xdp_drop_all, 1 xdp_pass_all
    const odd = cap.packets.filter((p) => Math.min(p.length, 3520) & 1).length;
    const s = await replay({ captures: [cap.path], obj: obj('tail_calls'), prog: 'xdp_dispatch', workers: 2 });
    assert.deepEqual(s.verdict_names, { XDP_DROP: cap.packets.length - odd, XDP_PASS: odd });
    const init: MapInit = { prog_array: { jmp_table: { 0: 'xdp_pass_all' } } };
    const t = await replay({
      captures: [cap.path],
      obj: obj('tail_calls'),
      prog: 'xdp_dispatch',
      workers: 2,
      mapInit: { init, where: 'init' },
    });
    assert.deepEqual(t.verdict_names, { XDP_PASS: cap.packets.length });
    assert.equal(t.maps.jmp_table, undefined, 'prog arrays are left out of the maps');
  });
});

describe('replay: captures of other link types', function () {
  this.timeout(60_000);
  it('raw IP and Linux cooked (SLL) packets of a several-interface pcapng run as the Ethernet frames linkType.ts makes (hand-computed)', async function () {
    const { spawnSync } = await import('node:child_process');
    const { writeFileSync } = await import('node:fs');
    if (spawnSync('text2pcap', ['--version']).error || spawnSync('mergecap', ['--version']).error) this.skip(); // wireshark-common is not installed
    const dir = mkdtempSync(join(tmpdir(), 'bpfbox-linktypes-'));
    try {
      const ip = '45000020000100004011f9c70a0000010a00000204d20035000c0000deadbeef';
      const sll = `0001000100060200000000070000 0800${ip}`.replace(/\s/g, '');
      writeFileSync(join(dir, 'raw.txt'), `0000 ${ip.match(/../g)!.join(' ')}\n`);
      writeFileSync(join(dir, 'sll.txt'), `0000 ${sll.match(/../g)!.join(' ')}\n`);
      for (const [n, lt] of [
        ['raw', '101'],
        ['sll', '113'],
      ])
        assert.equal(spawnSync('text2pcap', ['-q', '-l', lt, '-n', join(dir, `${n}.txt`), join(dir, `${n}.pcapng`)]).status, 0);
      const merged = join(dir, 'merged.pcapng');
      assert.equal(spawnSync('mergecap', ['-a', '-w', merged, join(dir, 'raw.pcapng'), join(dir, 'sll.pcapng')]).status, 0);
      const out = join(dir, 'out.pcapng');
      const s = await replay({ captures: [merged], obj: obj('xdp_simple'), workers: 1, out });
      assert.equal(s.packets, 2);
      const r = new PcapngReader(out);
      const frames: string[] = [];
      for (let p = r.next(); p; p = r.next()) frames.push(hex(p.data));
      r.close();
      // raw IPv4: zero MACs and 0x0800; SLL broadcast (1) from 02:00:00:00:00:07
      assert.deepEqual(frames, [`000000000000000000000000${'0800'}${ip}`, `ffffffffffff020000000007${'0800'}${ip}`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
