import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, bpfbox, tempState } from './cliSupport.js';
import { kernelBpffs } from '../support/bpffs.js';
import { handFrames, handPcap } from '../support/handPcap.js';

/**
 * katran's balancer (facebookincubator/katran, lib/bpf/balancer.bpf.c), built from the checkout
 * KATRAN_SRC names, loaded with `prog loadall` in bpfbox and in the kernel, its maps seeded as
 * katran's tests provision them (a VIP, a real, the gateway MAC in ctl_array, the VIP's ring),
 * and three packets run through both with `prog run`: one to the VIP (encapsulated IPIP to the
 * real, XDP_TX), one to an address that is no VIP (XDP_PASS) and an ICMP echo request to the
 * VIP (answered in place, XDP_TX). The kernel is the reference: same return value, same bytes.
 *
 * The object is built with -DRING_SIZE=13 (katran's consts take it from the command line) so
 * the VIP's ring is 13 slots to seed rather than 65,537; nothing else of the program changes.
 */
const RING_SIZE = 13;
/** the two builds: katran's default (IPIP encapsulation) and its GUE build (katran's -DGUE_ENCAP, with inline GUE decap) */
const BUILDS = [
  { name: 'IPIP', defines: [], outer: 20 },
  { name: 'GUE', defines: ['-DGUE_ENCAP', '-DINLINE_DECAP_GUE'], outer: 28 },
] as const;
/** the source address GUE packets leave from (pckt_srcs[V4_SRC_INDEX]) */
const GUE_SRC = [10, 0, 0, 1];
const VIP = [10, 200, 1, 1];
const REAL = [10, 0, 0, 2];
const GW_MAC = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

const hexArgs = (b: Buffer | number[]) => ['hex', ...Buffer.from(b).toString('hex').match(/../g)!];
const le32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

/** the IPv4 header checksum (RFC 791), computed here */
function ipCsum(h: Buffer): number {
  let s = 0;
  for (let i = 0; i < h.length; i += 2) s += h.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** an Ethernet + IPv4 frame to `dst` carrying `l4` of protocol `proto` */
function frame(dst: number[], proto: number, l4: Buffer): Buffer {
  const eth = Buffer.from([...[0x02, 0, 0, 0, 0, 0xaa], ...[0x02, 0, 0, 0, 0, 0xbb], 0x08, 0x00]);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + l4.length, 2);
  ip[8] = 64;
  ip[9] = proto;
  Buffer.from([192, 168, 1, 42]).copy(ip, 12);
  Buffer.from(dst).copy(ip, 16);
  ip.writeUInt16BE(ipCsum(ip), 10);
  return Buffer.concat([eth, ip, l4]);
}

const tcpSyn = () => {
  const t = Buffer.alloc(20);
  t.writeUInt16BE(31337, 0);
  t.writeUInt16BE(80, 2);
  t[12] = 0x50;
  t[13] = 0x02;
  return t;
};
const icmpEcho = () => {
  const i = Buffer.from([8, 0, 0, 0, 0x12, 0x34, 0, 1, ...Buffer.from('bpfbox-katran')]);
  i.writeUInt16BE(ipCsum(Buffer.concat([i, Buffer.alloc(i.length % 2)])), 2);
  return i;
};

/** why the differential cannot run here, or '' */
function unavailable(src: string | undefined): string {
  if (!src) return 'KATRAN_SRC is not set (a checkout of facebookincubator/katran)';
  if (!existsSync(join(src, 'katran', 'lib', 'bpf', 'balancer.bpf.c'))) return `${src} has no katran/lib/bpf/balancer.bpf.c`;
  if (spawnSync('clang-16', ['--version']).status !== 0) return 'clang-16 is not installed';
  if (spawnSync('bpftool', ['version']).status !== 0) return 'bpftool is not installed';
  if (process.getuid?.() !== 0) return 'not root';
  return kernelBpffs();
}

for (const build of BUILDS)
  describe(`katran balancer (${build.name} build): prog loadall and prog run as the kernel (KATRAN_SRC)`, function () {
    this.timeout(600_000);
    const src = process.env.KATRAN_SRC;
    let tmp = '';
    let state = '';
    let obj = '';
    /** the kernel's [return value, output bytes] for the three frames, from the prog run test */
    let kernelRuns: [number, string][] = [];
    const kpin = `/sys/fs/bpf/bpfbox_katran_${build.name}_${process.pid}`;
    const kmaps = `/sys/fs/bpf/bpfbox_katran_maps_${build.name}_${process.pid}`;

    before(function () {
      const why = unavailable(src);
      if (why) {
        console.log(`  katran differential: SKIPPED: ${why}`);
        this.skip();
      }
      tmp = mkdtempSync(join(tmpdir(), 'bpfbox-katran-'));
      state = tempState();
      // the kernel headers' <asm/types.h> for the bpf target, and glibc's 32-bit stubs it asks for, empty
      const inc = join(tmp, 'inc');
      mkdirSync(join(inc, 'gnu'), { recursive: true });
      symlinkSync('/usr/include/x86_64-linux-gnu/asm', join(inc, 'asm'));
      writeFileSync(join(inc, 'gnu', 'stubs-32.h'), '');
      obj = join(tmp, 'balancer.o');
      const cc = spawnSync(
        'clang-16',
        [
          ...['-O2', '-g', '-target', 'bpf', '-D__KERNEL__', `-DRING_SIZE=${RING_SIZE}`, ...build.defines],
          ...['-Wno-unused-value', '-Wno-pointer-sign', '-Wno-compare-distinct-pointer-types'],
          ...['-I', inc, '-I', '/usr/include/x86_64-linux-gnu', '-I', join(src!, 'katran', 'lib', 'linux_includes'), '-I', src!],
          ...['-c', join(src!, 'katran', 'lib', 'bpf', 'balancer.bpf.c'), '-o', obj],
        ],
        { encoding: 'utf8' },
      );
      assert.equal(cc.status, 0, cc.stderr);
    });

    after(() => {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      if (state) rmSync(state, { recursive: true, force: true });
      rmSync(kpin, { recursive: true, force: true });
      rmSync(kmaps, { recursive: true, force: true });
    });

    /** runs bpftool's grammar in the kernel or in bpfbox; returns stdout, failing on an error */
    const tool = (kernel: boolean, ...args: string[]): string => {
      if (kernel) {
        const r = spawnSync('bpftool', args, { encoding: 'utf8' });
        assert.equal(r.status, 0, `bpftool ${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      }
      const r = bpfbox(state, ...args);
      assert.equal(r.code, 0, `bpfbox ${args.join(' ')}: ${r.err}`);
      return r.out;
    };

    /** loads the balancer, seeds it as katran's tests do, and runs each frame: [return value, output bytes] */
    function runAll(kernel: boolean, frames: Buffer[]): [number, string][] {
      const pin = kernel ? kpin : '/sys/fs/bpf/katran';
      const maps = kernel ? kmaps : '/sys/fs/bpf/katran_maps';
      tool(kernel, 'prog', 'loadall', obj, pin, 'pinmaps', maps);
      const update = (map: string, key: Buffer | number[], value: Buffer | number[]) =>
        tool(kernel, 'map', 'update', 'pinned', `${maps}/${map}`, 'key', ...hexArgs(key), 'value', ...hexArgs(value));
      // ctl_array[0]: the gateway MAC encapsulated packets go to (KatranTestProvision's default MAC)
      update('ctl_array', le32(0), [...GW_MAC, 0, 0]);
      // vip_map: { vip 10.200.1.1, port 80, proto TCP } and the same for ICMP's echo path -> { flags 0, vip_num 0 }
      const vipKey = (proto: number) => Buffer.concat([Buffer.from(VIP), Buffer.alloc(12), Buffer.from([0, 80, proto, 0])]);
      update('vip_map', vipKey(6), Buffer.concat([le32(0), le32(0)]));
      // reals[1]: 10.0.0.2 (real ids start at 1)
      update('reals', le32(1), Buffer.concat([Buffer.from(REAL), Buffer.alloc(16)]));
      // ch_rings: every slot of VIP 0's ring names real 1
      for (let i = 0; i < RING_SIZE; i++) update('ch_rings', le32(i), le32(1));
      // pckt_srcs[V4_SRC_INDEX]: the GUE build's outer source address
      if (build.name === 'GUE') update('pckt_srcs', le32(0), Buffer.concat([Buffer.from(GUE_SRC), Buffer.alloc(16)]));
      return frames.map((f, n) => {
        const din = join(tmp, `${kernel ? 'k' : 'b'}${n}.in`);
        const dout = join(tmp, `${kernel ? 'k' : 'b'}${n}.out`);
        writeFileSync(din, f);
        const out = tool(kernel, 'prog', 'run', 'pinned', `${pin}/balancer_ingress`, 'data_in', din, 'data_out', dout);
        const rv = /Return value: (\d+)/.exec(out);
        assert.ok(rv, out);
        return [Number(rv[1]), readFileSync(dout).toString('hex')];
      });
    }

    it(`a VIP packet (${build.name} to the real), a packet to no VIP and an ICMP echo to the VIP: same return values and bytes`, () => {
      const frames = [frame(VIP, 6, tcpSyn()), frame([10, 200, 1, 99], 6, tcpSyn()), frame(VIP, 1, icmpEcho())];
      const k = runAll(true, frames);
      const b = runAll(false, frames);
      // the kernel's answers are the paths the frames were built to take
      assert.deepEqual(
        k.map(([rv]) => rv),
        [3, 2, 3],
        'kernel: XDP_TX for the VIP packet and the echo, XDP_PASS for the rest',
      );
      assert.equal(k[0][1].length, (frames[0].length + build.outer) * 2, `kernel: the VIP packet gained ${build.name}'s outer headers`);
      assert.deepEqual(b, k);
      kernelRuns = k;
    });

    it("replay of the same frames (maps seeded by --map-init) gives the kernel's verdicts and bytes", function () {
      if (!kernelRuns.length) this.skip();
      const frames = [frame(VIP, 6, tcpSyn()), frame([10, 200, 1, 99], 6, tcpSyn()), frame(VIP, 1, icmpEcho())];
      const h = (b: Buffer | number[]) => Buffer.from(b).toString('hex');
      const init = {
        maps: {
          ctl_array: [[h(le32(0)), h([...GW_MAC, 0, 0])]],
          vip_map: [[h([...VIP, ...Buffer.alloc(12), 0, 80, 6, 0]), h(Buffer.alloc(8))]],
          reals: [[h(le32(1)), h([...REAL, ...Buffer.alloc(16)])]],
          ch_rings: Array.from({ length: RING_SIZE }, (_, i) => [h(le32(i)), h(le32(1))]),
          ...(build.name === 'GUE' ? { pckt_srcs: [[h(le32(0)), h([...GUE_SRC, ...Buffer.alloc(16)])]] } : {}),
        },
      };
      const initFile = join(tmp, 'init.json');
      const input = join(tmp, 'in.pcap');
      const out = join(tmp, 'out.pcap');
      writeFileSync(initFile, JSON.stringify(init));
      writeFileSync(input, handPcap(frames));
      // (spawned here, not by cliSupport's bpfbox: the --json summary of katran's maps is larger than spawnSync's default 1 MB buffer)
      const run = spawnSync(
        process.execPath,
        [CLI, 'replay', input, '--obj', obj, '--workers', '1', '--map-init', initFile, '--out', out, '--json'],
        {
          encoding: 'utf8',
          env: { ...process.env, BPFBOX_BPFFS: state },
          maxBuffer: 1 << 28,
        },
      );
      const r = { code: run.status ?? -1, err: run.stderr, out: run.stdout };
      assert.equal(r.code, 0, r.err);
      const verdicts = (JSON.parse(r.out) as { verdicts: Record<string, number> }).verdicts;
      // verdicts by return value, counted from the kernel's test runs (XDP_TX 3 twice, XDP_PASS 2 once)
      const want: Record<string, number> = {};
      for (const [rv] of kernelRuns) want[rv] = (want[rv] ?? 0) + 1;
      assert.deepEqual(verdicts, want);
      assert.deepEqual(
        handFrames(readFileSync(out)).map((f) => f.toString('hex')),
        kernelRuns.map(([, bytes]) => bytes),
      );
    });
  });
