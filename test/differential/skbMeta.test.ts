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
 * Differential for the skb metadata helpers (hooks/helpers/skbMeta.ts, tunnel.ts, tc's
 * redirect_peer / redirect_neigh, syncookie.ts, task.ts): bpf/tc_meta.o, bpf/xdp_mtu.o, bpf/tc_tunnel.o,
 * bpf/xdp_syncookie.o (TCP SYNs: the cookie's MSS and which checks pass), bpf/tc_misc.o and
 * bpf/xdp_strings.o (strtol, strtoul, strncmp on text in the packet) keep every helper's raw answer in their `results` array; each packet runs
 * through `bpftool prog run` on the running kernel and through bpfbox's test run, and after
 * each packet the return value, the output bytes and every slot of `results` must agree.
 * The ECN packets are udp4 with the TOS field's ECN bits set (ECT(1), ECT(0), CE).
 */
const DIR = `/sys/fs/bpf/bpfbox_meta_${process.pid}`;
const bt = (...a: string[]) => spawnSync('bpftool', a, { encoding: 'utf8' });
const withTos = (p: Uint8Array, tos: number) => Uint8Array.from(p, (b, i) => (i === 15 ? tos : b));
const CASES: Readonly<Record<string, Uint8Array>> = {
  ...PACKETS,
  'udp4 ECT(1)': withTos(PACKETS.udp4, 0x01),
  'udp4 ECT(0)': withTos(PACKETS.udp4, 0x02),
  'udp4 CE': withTos(PACKETS.udp4, 0x03),
  'udp4 dscp 46 ECT(0)': withTos(PACKETS.udp4, 0xba),
};

describe('differential: skb metadata helpers against the kernel (check_mtu, csum_level, change_type, ecn_set_ce, set_tstamp, probe_read_kernel, tunnel keys and options, redirect_peer/neigh, raw syncookies)', function () {
  this.timeout(120_000);
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-meta-'));
  before(function () {
    const why = bt('version').error ? 'bpftool is not installed' : process.getuid?.() !== 0 ? 'not root' : kernelBpffs();
    if (why) {
      console.log(`  skb metadata differential: SKIPPED: ${why}`);
      this.skip();
    }
    mkdirSync(DIR, { recursive: true });
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  const withFirst = (p: Uint8Array, b: number) => Uint8Array.from(p, (x, i) => (i === 0 ? b : x));
  const TUNNEL_CASES = Object.fromEntries([0, 1, 2, 3, 4, 5, 8, 9].map((b) => [`udp4, case ${b}`, withFirst(PACKETS.udp4, b)]));
  /** TCP SYNs over IPv4 and IPv6, with an MSS option (doff 6) or none (doff 5). */
  const syn = (v6: boolean, mss?: number) => {
    const tcp = [0x9c, 0x40, 0x01, 0xbb, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0, mss ? 0x60 : 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0];
    if (mss) tcp.push(2, 4, mss >> 8, mss & 0xff);
    const ip = v6
      ? [
          0x60,
          0,
          0,
          0,
          0,
          tcp.length,
          6,
          64,
          ...[0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1],
          ...[0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 2],
        ]
      : [0x45, 0, 0, 20 + tcp.length, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    return Uint8Array.from([...Array(6).fill(0xff), 2, 0, 0, 0, 0, 1, ...(v6 ? [0x86, 0xdd] : [0x08, 0x00]), ...ip, ...tcp]);
  };
  const SYNS: Record<string, Uint8Array> = {
    'syn4 mss 1400': syn(false, 1400),
    'syn4 mss 1460': syn(false, 1460),
    'syn4 mss 9000': syn(false, 9000),
    'syn4 mss 100': syn(false, 100),
    'syn4 no options': syn(false),
    'syn6 mss 1440': syn(true, 1440),
    'syn6 mss 9000': syn(true, 9000),
    'syn6 no options': syn(true),
  };
  /** Text for xdp_strings: [flags (base), the text the helpers see], after 12 bytes of addresses. */
  const TEXTS: readonly [number, string][] = [
    [0, '123'],
    [0, '  -42abc'],
    [0, '-42abc'],
    [10, '0x1f'],
    [16, '0x1f'],
    [0, '0x1fz'],
    [0, '0x'],
    [0, '0777'],
    [8, '789'],
    [0, '18446744073709551615'],
    [0, '18446744073709551616'],
    [0, '9223372036854775807'],
    [0, '9223372036854775808'],
    [0, '-9223372036854775808'],
    [0, '-9223372036854775809'],
    [0, '-'],
    [0, '   '],
    [0, 'abc'],
    [10, '\t\n 7'],
    [3, '12'],
    [0x20, '12'],
    [0, '-0'],
    [16, 'FFFFFFFFFFFFFFFFF'],
  ];
  const STRINGS = Object.fromEntries(
    TEXTS.map(([base, t]) => {
      const text = new TextEncoder().encode(t.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
      return [
        `base ${base} ${JSON.stringify(t)}`,
        Uint8Array.from([...Array(12).fill(2), base, text.length, ...text, ...Array(40).fill(0)]),
      ];
    }),
  );
  for (const [obj, slots, cases] of [
    ['tc_meta', 23, CASES],
    ['xdp_mtu', 7, CASES],
    ['tc_tunnel', 37, TUNNEL_CASES],
    ['xdp_syncookie', 6, SYNS],
    ['tc_misc', 17, CASES],
    ['xdp_strings', 6, STRINGS],
  ] as const) {
    it(`${obj}: return value, output bytes and every helper's answer, packet by packet`, () => {
      const file = join(REPO_ROOT, 'bpf', `${obj}.o`);
      const pins = `${DIR}/${obj}`;
      const mapPins = `${DIR}/${obj}_maps`;
      assert.equal(bt('prog', 'loadall', file, pins, 'pinmaps', mapPins).status, 0);
      const k = new Kernel({ ncpus: 1, runtime: { seed: 1, clock: () => 1n } });
      const l = loadCollection(k.process, readCollection(readFileSync(file), { name: `${obj}.o` }));
      let compared = 0;
      for (const [name, pkt] of Object.entries(cases)) {
        const inFile = join(tmp, 'in.bin');
        const outFile = join(tmp, 'out.bin');
        writeFileSync(inFile, pkt);
        rmSync(outFile, { force: true });
        const kr = bt('-j', 'prog', 'run', 'pinned', `${pins}/${obj}`, 'data_in', inFile, 'data_out', outFile);
        const a = { prog_fd: l.programs.get(obj)!, data_in: pkt, data_out: new Uint8Array(16384), retval: 0, data_size_out: 0 };
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
        assert.equal(showSlots(ours.slice(0, slots)), showSlots(theirs.slice(0, slots)), `${name}: results`);
        compared++;
      }
      assert.ok(compared >= 4, `${obj}: only ${compared} packets ran in the kernel`);
    });
  }
});
