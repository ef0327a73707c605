import assert from 'node:assert/strict';
import { interpreter } from '../../vm/interpreter/interpreter.js';
import { jit } from '../../vm/jit/jit.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { Kernel } from '../../kernel/kernel.js';
import { strerror } from '../../uapi/errno.js';
import { PACKETS } from '../support/packets.js';
import { REPO_ROOT } from '../support/paths.js';
import { runBoth } from '../support/runBoth.js';
import { kernelBpffs } from '../support/bpffs.js';

/**
 * Differential: every corpus program the kernel can test-run, over the packet set, through
 * `bpftool prog run` on the running kernel and through bpfbox's BPF_PROG_TEST_RUN: the same
 * return value (or the same refusal), the same output packet, and the same maps afterwards.
 * By nature they cannot agree on which CPU ran (per-CPU slots and CPU-indexed keys are
 * compared as totals) and on time; the ring buffer's records are not compared (bpftool cannot
 * read them).
 */
const DIR = `/sys/fs/bpf/bpfbox_run_${process.pid}`;
const bt = (...a: string[]) => spawnSync('bpftool', a, { encoding: 'utf8' });
const PROGRAMS: readonly [string, string][] = [
  ['xdp_simple', 'xdp_simple'],
  ['sock_proto', 'count_proto'],
  ['global_data', 'load_static_data'],
  ['calls', 'xdp_calls'],
  ['tail_calls', 'xdp_dispatch'],
  ['lpm_firewall', 'xdp_firewall'],
  ['ringbuf', 'xdp_ringbuf'],
  ['map_in_map', 'xdp_map_in_map'],
  ['core_ctx', 'xdp_core'],
  ['tc_nat', 'tc_nat'],
  ['xdp_encap', 'xdp_encap'],
  ['callbacks', 'xdp_callbacks'],
  ['tc_proto', 'tc_proto'],
  ['xdp_frags', 'xdp_frags'],
  ['tc_pull', 'tc_pull'],
  ['tc_resize', 'tc_resize'],
  ['tc_room', 'tc_room'],
  ['tc_clone', 'tc_clone'],
  ['sock_cookie', 'sock_cookie'],
];

/** SEEDS: map contents set on both sides before the packets (map, key bytes, value bytes). */
const SEEDS: Readonly<Record<string, readonly [string, number[], number[]][]>> = {
  lpm_firewall: [['blocked', [16, 0, 0, 0, 10, 1, 0, 0], [1, 0, 0, 0]]], // block 10.1.0.0/16
  callbacks: [1, 2, 3].map((k) => ['values', [k, 0, 0, 0], [k * 10, 0, 0, 0, 0, 0, 0, 0]] as [string, number[], number[]]),
};

/** EXTRA: packets a program needs beyond the common set (tc_resize: its first byte picks the change). */
const withFirst = (p: Uint8Array, b: number) => Uint8Array.from([b, ...p.subarray(1)]);
const EXTRA: Readonly<Record<string, Readonly<Record<string, Uint8Array>>>> = {
  tc_resize: {
    'tail +4': withFirst(PACKETS.udp4, 0),
    'tail -4': withFirst(PACKETS.udp4, 1),
    'head +8': withFirst(PACKETS.udp4, 4),
    'tail +4 at the largest skb': withFirst(PACKETS['largest skb test run (3712)'], 0),
    'tail -4 of a bare header': withFirst(PACKETS['bare ethernet header'], 1),
  },
  tc_room: Object.fromEntries([
    ...Array.from({ length: 12 }, (_, b) => [`udp4, case ${b}`, withFirst(PACKETS.udp4, b)]),
    ...[0, 1, 2, 3, 7, 8].map((b) => [`ipv6, case ${b}`, withFirst(PACKETS['ipv6 with hop-by-hop and udp'], b)]),
    ['arp, case 0', withFirst(PACKETS.arp, 0)],
    ['largest skb, case 0', withFirst(PACKETS['largest skb test run (3712)'], 0)],
  ]),
};

describe('differential: test runs agree with the kernel packet for packet (interpreter and JIT)', function () {
  this.timeout(300_000);
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-run-'));
  before(function () {
    const why = bt('version').error ? 'bpftool is not installed' : process.getuid?.() !== 0 ? 'not root' : kernelBpffs();
    if (why) {
      console.log(`  test-run differential: SKIPPED: ${why}`);
      this.skip();
    }
    mkdirSync(DIR, { recursive: true });
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  for (const [obj, progName] of PROGRAMS) {
    it(`${obj}: ${progName}`, () => {
      const file = join(REPO_ROOT, 'bpf', `${obj}.o`);
      const pins = `${DIR}/${obj}`;
      const mapPins = `${DIR}/${obj}_maps`;
      assert.equal(bt('prog', 'loadall', file, pins, 'pinmaps', mapPins).status, 0);
      // bpfbox twice: interpreted and compiled by the JIT, each against the kernel
      const sides = [interpreter, jit].map((engine) => {
        const k = new Kernel({ ncpus: 2, runtime: { seed: 1, clock: () => 1n, engine } });
        const l = loadCollection(k.process, readCollection(readFileSync(file), { name: `${obj}.o` }));
        return { k, l, engine: engine.name };
      });
      for (const [map, key, value] of SEEDS[obj] ?? []) {
        assert.equal(
          bt('map', 'update', 'pinned', `${mapPins}/${map}`, 'key', ...key.map(String), 'value', ...value.map(String)).status,
          0,
        );
        for (const { k, l } of sides)
          assert.equal(
            k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: l.maps.get(map)!, key: Uint8Array.from(key), value: Uint8Array.from(value) }),
            0,
          );
      }
      for (const [name, pkt] of Object.entries({ ...PACKETS, ...EXTRA[obj] })) {
        runBoth(`${pins}/${progName}`, progName, sides, name, pkt, tmp);
      }
      // the maps afterwards
      for (const { k, l } of sides)
        for (const [mapName, mapFd] of l.maps) {
          const show = JSON.parse(bt('-j', 'map', 'show', 'pinned', `${mapPins}/${mapName}`).stdout || '{}');
          if (!show.type || show.flags & 0x400 || ['ringbuf', 'prog_array', 'array_of_maps'].includes(show.type)) continue;
          const kernel = JSON.parse(bt('-j', 'map', 'dump', 'pinned', `${mapPins}/${mapName}`).stdout) as {
            key: string[];
            value?: string[];
            values?: { value: string[] }[];
          }[];
          const toBig = (hex: string[]) =>
            BigInt(
              '0x' +
                ([...hex]
                  .reverse()
                  .map((h) => h.slice(2))
                  .join('') || '0'),
            );
          const sumOf = (e: { value?: string[]; values?: { value: string[] }[] }) =>
            e.values ? e.values.reduce((s, v) => s + toBig(v.value), 0n) : toBig(e.value!);
          const cpuKeyed = obj === 'xdp_simple' && mapName === 'rxcnt';
          const ours: bigint[] = [];
          const theirs: bigint[] = [];
          for (const e of kernel) {
            const v = new Uint8Array(k.process.mapOf(mapFd).map.map.userValueSize);
            assert.equal(
              k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: mapFd, key: Uint8Array.from(e.key.map((h) => parseInt(h, 16))), value: v }),
              0,
              `${mapName}: key ${e.key.join(' ')}`,
            );
            const step = (show.bytes_value + 7) & ~7;
            const mine = e.values
              ? Array.from({ length: 2 }, (_, c) =>
                  toBig([...v.subarray(c * step, c * step + show.bytes_value)].map((b) => '0x' + b.toString(16).padStart(2, '0'))),
                ).reduce((a, b) => a + b)
              : toBig([...v].map((b) => '0x' + b.toString(16).padStart(2, '0')));
            ours.push(mine);
            theirs.push(sumOf(e));
          }
          if (cpuKeyed)
            assert.equal(
              ours.reduce((a, b) => a + b, 0n),
              theirs.reduce((a, b) => a + b, 0n),
              `${mapName}: total over CPUs`,
            );
          else assert.deepEqual(ours, theirs, `${mapName}: values`);
        }
    });
  }
});

describe('differential: test-run context in and out', function () {
  this.timeout(60_000);
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-ctx-'));
  const pins = `/sys/fs/bpf/bpfbox_ctx_${process.pid}`;
  before(function () {
    if (bt('version').error || process.getuid?.() !== 0 || kernelBpffs()) this.skip();
    mkdirSync(pins, { recursive: true });
  });
  after(() => {
    rmSync(pins, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });
  const ctxCases: Record<string, (c: DataView) => void> = {
    'mark, priority and cb[0] go in and come back': (c) => (
      c.setUint32(8, 77, true),
      c.setUint32(32, 5, true),
      c.setUint32(48, 0xcafe, true)
    ),
    'len may not be set (EINVAL)': (c) => c.setUint32(0, 1, true),
    'an unknown ifindex (ENODEV)': (c) => c.setUint32(40, 5, true),
    'wire_len below the length (EINVAL)': (c) => c.setUint32(160, 10, true),
  };
  for (const [name, fill] of Object.entries(ctxCases)) {
    it(`tc: ${name}`, () => {
      const file = join(REPO_ROOT, 'bpf', 'tc_nat.o');
      rmSync(`${pins}/tc`, { recursive: true, force: true });
      assert.equal(bt('prog', 'loadall', file, `${pins}/tc`).status, 0);
      const ctxIn = new Uint8Array(192);
      fill(new DataView(ctxIn.buffer));
      writeFileSync(join(tmp, 'ctx.bin'), ctxIn);
      writeFileSync(join(tmp, 'pkt.bin'), PACKETS.udp4);
      rmSync(join(tmp, 'ctxout.bin'), { force: true });
      const kr = bt(
        'prog',
        'run',
        'pinned',
        `${pins}/tc/tc_nat`,
        'data_in',
        join(tmp, 'pkt.bin'),
        'ctx_in',
        join(tmp, 'ctx.bin'),
        'ctx_out',
        join(tmp, 'ctxout.bin'),
      );
      const k = new Kernel({ ncpus: 1 });
      const l = loadCollection(k.process, readCollection(readFileSync(file), { name: 'tc_nat.o' }));
      const a = { prog_fd: l.programs.get('tc_nat')!, data_in: PACKETS.udp4, ctx_in: ctxIn, ctx_out: new Uint8Array(192), retval: 0 };
      const r = k.bpf('BPF_PROG_TEST_RUN', a);
      if (kr.status !== 0) {
        assert.equal(`Error: failed to run program: ${r < 0 ? strerror(-r) : 'ran'}`, kr.stderr.trim());
        return;
      }
      assert.equal(r, 0);
      assert.equal(Buffer.from(a.ctx_out).toString('hex'), readFileSync(join(tmp, 'ctxout.bin')).toString('hex'));
    });
  }
});
