import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import type { Neighbour, Route } from '../../hooks/helpers/fib.js';
import { parseAddr } from '../../hooks/helpers/fib.js';
import { Kernel } from '../../kernel/kernel.js';
import { REPO_ROOT } from '../support/paths.js';
import { kernelBpffs } from '../support/bpffs.js';

/**
 * Differential for bpf_fib_lookup: a network namespace is given routes and neighbours with
 * `ip`, and bpfbox the same table as config (NET below is both); bpf/xdp_fib.o, which writes
 * the looked-up struct bpf_fib_lookup into the packet, runs in that namespace through
 * `bpftool prog run` and through bpfbox: the same code and the same struct afterwards.
 */
const NS = `bpfbox_fib_${process.pid}`;
const DIR = `/sys/fs/bpf/bpfbox_fib_${process.pid}`;
const run = (cmd: string, ...a: string[]) => spawnSync(cmd, a, { encoding: 'utf8' });
const VETH = { ifindex: 0, mac: '02:00:00:00:00:01' };

/** NET: each line's `ip` arguments (inside the namespace) and what bpfbox is told for it. */
const NET: readonly [string[], Route | Neighbour | undefined][] = [
  [['addr', 'add', '10.1.0.1/24', 'dev', 'veth0'], { dst: '10.1.0.0/24', ifindex: -1, src: '10.1.0.1', smac: VETH.mac }],
  [
    ['addr', 'add', '2001:db8:1::1/64', 'dev', 'veth0', 'nodad'],
    { dst: '2001:db8:1::/64', ifindex: -1, src: '2001:db8:1::1', smac: VETH.mac, metric: 256 },
  ],
  [
    ['route', 'add', '10.2.0.0/16', 'via', '10.1.0.2'],
    { dst: '10.2.0.0/16', ifindex: -1, gateway: '10.1.0.2', src: '10.1.0.1', smac: VETH.mac },
  ],
  [
    ['route', 'add', '10.3.0.0/16', 'via', '10.1.0.3', 'metric', '7'],
    { dst: '10.3.0.0/16', ifindex: -1, gateway: '10.1.0.3', src: '10.1.0.1', smac: VETH.mac, metric: 7 },
  ],
  [
    ['route', 'add', '10.6.0.0/16', 'via', '10.1.0.2', 'mtu', '1000'],
    { dst: '10.6.0.0/16', ifindex: -1, gateway: '10.1.0.2', src: '10.1.0.1', smac: VETH.mac },
  ],
  [
    ['route', 'add', '10.7.0.0/16', 'via', '10.1.0.2', 'mtu', 'lock', '1000'],
    { dst: '10.7.0.0/16', ifindex: -1, gateway: '10.1.0.2', src: '10.1.0.1', smac: VETH.mac, mtu: 1000 },
  ],
  [['route', 'add', 'blackhole', '10.66.0.0/16'], { dst: '10.66.0.0/16', ifindex: 0, kind: 'blackhole' }],
  [['route', 'add', 'unreachable', '10.67.0.0/16'], { dst: '10.67.0.0/16', ifindex: 0, kind: 'unreachable' }],
  [['route', 'add', 'prohibit', '10.68.0.0/16'], { dst: '10.68.0.0/16', ifindex: 0, kind: 'prohibit' }],
  [
    ['route', 'add', '2001:db8:2::/48', 'via', '2001:db8:1::2'],
    { dst: '2001:db8:2::/48', ifindex: -1, gateway: '2001:db8:1::2', src: '2001:db8:1::1', smac: VETH.mac, metric: 1024 },
  ],
  [
    ['route', 'add', '2001:db8:3::/48', 'via', '2001:db8:1::3'],
    { dst: '2001:db8:3::/48', ifindex: -1, gateway: '2001:db8:1::3', src: '2001:db8:1::1', smac: VETH.mac, metric: 1024 },
  ],
  [
    ['route', 'add', '2001:db8:7::/48', 'via', '2001:db8:1::2', 'mtu', 'lock', '1280'],
    { dst: '2001:db8:7::/48', ifindex: -1, gateway: '2001:db8:1::2', src: '2001:db8:1::1', smac: VETH.mac, metric: 1024, mtu: 1280 },
  ],
  [['neigh', 'add', '10.1.0.2', 'lladdr', '02:00:00:00:00:aa', 'dev', 'veth0'], { ip: '10.1.0.2', mac: '02:00:00:00:00:aa' }],
  [['neigh', 'add', '2001:db8:1::2', 'lladdr', '02:00:00:00:00:bb', 'dev', 'veth0'], { ip: '2001:db8:1::2', mac: '02:00:00:00:00:bb' }],
];
/** The host's own addresses (the kernel's local table). */
const LOCAL: Route[] = [
  { dst: '10.1.0.1/32', ifindex: 0, kind: 'local' },
  { dst: '2001:db8:1::1/128', ifindex: 0, kind: 'local' },
];

/** CASES: destination, payload flag byte (4: SKIP_NEIGH, 16: SRC), the IP length field's claim. */
const CASES: readonly [string, number, number?, number?][] = [
  ['10.2.3.4', 0],
  ['10.2.3.4', 4],
  ['10.1.0.2', 0],
  ['10.1.0.7', 0],
  ['10.1.0.7', 4],
  ['10.3.9.9', 0],
  ['10.3.9.9', 4],
  ['10.1.0.1', 0],
  ['10.66.0.1', 0],
  ['10.67.0.1', 0],
  ['10.68.0.1', 0],
  ['10.6.0.1', 0, 1200],
  ['10.6.0.1', 0, 1600],
  ['10.7.0.1', 0, 1200],
  ['10.7.0.1', 0, 1000],
  ['10.99.0.1', 0],
  ['2001:db8:2::5', 0],
  ['2001:db8:2::5', 4],
  ['2001:db8:3::5', 0],
  ['2001:db8:1::9', 0],
  ['2001:db8:1::9', 4],
  ['2001:db8:1::1', 0],
  ['2001:db8:77::1', 0],
  ['2001:db8:7::1', 0, 1400],
  ['2001:db8:7::1', 0, 1000],
  ['2001:db8:2::1', 0, 1600],
  ['10.2.3.4', 16],
  ['10.2.3.4', 20],
  ['10.1.0.7', 16],
  ['10.66.0.1', 16],
  ['10.7.0.1', 16, 1200],
  ['2001:db8:2::5', 16],
  ['2001:db8:1::9', 16],
  ['2001:db8:2::5', 20],
  // DIRECT: the main table only (local addresses live in the local table); TBID picks the table
  ['10.2.3.4', 1],
  ['10.1.0.1', 1],
  ['10.1.0.1', 5],
  ['10.66.0.1', 1],
  ['2001:db8:1::1', 1],
  ['2001:db8:2::5', 1],
  ['10.99.0.1', 1],
  ['10.2.3.4', 9, undefined, 254],
  ['10.1.0.1', 9, undefined, 255],
  ['10.2.3.4', 9, undefined, 255],
  ['10.2.3.4', 9, undefined, 100],
  ['2001:db8:2::5', 9, undefined, 100],
  ['10.2.3.4', 8, undefined, 100],
  // OUTPUT: the lookup is for a packet leaving through params->ifindex (here the loopback device)
  ['10.2.3.4', 2],
  ['10.1.0.1', 2],
  ['10.66.0.1', 2],
  ['2001:db8:2::5', 2],
  ['10.1.0.7', 6],
];

const be16 = (v: number) => [v >> 8, v & 0xff];
function packet(dst: string, flag: number, claim?: number, tbid = 0): Uint8Array {
  const d = [...parseAddr(dst)];
  const payload = [flag, tbid, ...Array(62).fill(0)];
  const eth = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0x0f];
  if (d.length === 4)
    return Uint8Array.from([
      ...eth,
      8,
      0,
      0x45,
      0,
      ...be16(claim ?? 20 + payload.length),
      0,
      0,
      0,
      0,
      64,
      17,
      0,
      0,
      10,
      9,
      0,
      1,
      ...d,
      ...payload,
    ]);
  return Uint8Array.from([
    ...eth,
    0x86,
    0xdd,
    0x60,
    0,
    0,
    0,
    ...be16(claim ? claim - 40 : payload.length),
    17,
    64,
    ...parseAddr('2001:db8:9::1'),
    ...d,
    ...payload,
  ]);
}

describe('differential: bpf_fib_lookup agrees with the kernel in a network namespace', function () {
  this.timeout(120_000);
  const tmp = mkdtempSync(join(tmpdir(), 'bpfbox-fib-'));
  let k: Kernel;
  let fd = 0;
  let kOff: Kernel;
  let fdOff = 0;
  before(function () {
    const why = run('bpftool', 'version').error
      ? 'bpftool is not installed'
      : run('ip', '-V').error
        ? 'ip (iproute2) is not installed'
        : process.getuid?.() !== 0
          ? 'not root'
          : kernelBpffs() || (run('ip', 'netns', 'add', NS).status !== 0 ? 'cannot create a network namespace' : '');
    if (why) {
      console.log(`  fib_lookup differential: SKIPPED: ${why}`);
      this.skip();
    }
    const ip = (...a: string[]) => assert.equal(run('ip', '-n', NS, ...a).status, 0, `ip ${a.join(' ')}`);
    ip('link', 'set', 'lo', 'up');
    ip('link', 'add', 'veth0', 'address', VETH.mac, 'type', 'veth', 'peer', 'name', 'veth1');
    ip('link', 'set', 'veth0', 'up');
    ip('link', 'set', 'veth1', 'up');
    VETH.ifindex = JSON.parse(run('ip', '-n', NS, '-j', 'link', 'show', 'veth0').stdout)[0].ifindex;
    for (const [args] of NET) ip(...args);
    for (const s of ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1'])
      assert.equal(run('ip', 'netns', 'exec', NS, 'sysctl', '-qw', s).status, 0);
    mkdirSync(DIR, { recursive: true });
    assert.equal(run('bpftool', 'prog', 'loadall', join(REPO_ROOT, 'bpf', 'xdp_fib.o'), `${DIR}/p`).status, 0);
    const entries = NET.map(([, e]) => e);
    const routes = [
      ...LOCAL,
      ...entries.filter((e): e is Route => !!e && 'dst' in e).map((r) => (r.ifindex === -1 ? { ...r, ifindex: VETH.ifindex } : r)),
    ];
    const neighbours = entries.filter((e): e is Neighbour => !!e && 'ip' in e);
    k = new Kernel({ ncpus: 1, runtime: { routes, neighbours } });
    const l = loadCollection(k.process, readCollection(readFileSync(join(REPO_ROOT, 'bpf', 'xdp_fib.o')), { name: 'xdp_fib.o' }));
    fd = l.programs.get('xdp_fib')!;
    // the same tables, with forwarding off on the loopback device (the device test runs see)
    kOff = new Kernel({
      ncpus: 1,
      runtime: {
        routes,
        neighbours,
        devices: [
          { ifindex: 1, forwarding: false },
          { ifindex: VETH.ifindex, forwarding: true },
        ],
      },
    });
    fdOff = loadCollection(
      kOff.process,
      readCollection(readFileSync(join(REPO_ROOT, 'bpf', 'xdp_fib.o')), { name: 'xdp_fib.o' }),
    ).programs.get('xdp_fib')!;
  });
  after(() => {
    run('ip', 'netns', 'del', NS);
    rmSync(DIR, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  const compare = (kernel: Kernel, prog: number, dst: string, flag: number, claim?: number, tbid?: number) => {
    const pkt = packet(dst, flag, claim, tbid);
    const inFile = join(tmp, 'in.bin');
    const outFile = join(tmp, 'out.bin');
    writeFileSync(inFile, pkt);
    const kr = run(
      'nsenter',
      `--net=/run/netns/${NS}`,
      'bpftool',
      '-j',
      'prog',
      'run',
      'pinned',
      `${DIR}/p/xdp_fib`,
      'data_in',
      inFile,
      'data_out',
      outFile,
    );
    assert.equal(kr.status, 0, kr.stderr);
    const a = { prog_fd: prog, data_in: pkt, data_out: new Uint8Array(4096), retval: 0, data_size_out: 0 };
    assert.equal(kernel.bpf('BPF_PROG_TEST_RUN', a), 0);
    const off = pkt[12] === 8 ? 34 : 54;
    const hex = (b: Uint8Array) => Buffer.from(b.subarray(off, off + 64)).toString('hex');
    assert.equal(a.retval, JSON.parse(kr.stdout).retval, 'return value');
    assert.equal(hex(a.data_out.subarray(0, a.data_size_out)), hex(readFileSync(outFile)), 'struct bpf_fib_lookup afterwards');
    return a.retval;
  };
  const FLAGS: readonly [number, string][] = [
    [1, 'DIRECT'],
    [2, 'OUTPUT'],
    [4, 'SKIP_NEIGH'],
    [8, 'TBID'],
    [16, 'SRC'],
  ];
  for (const [dst, flag, claim, tbid] of CASES) {
    it(`${dst}${FLAGS.filter(([b]) => flag & b)
      .map(([, n]) => ` ${n}`)
      .join('')}${tbid !== undefined ? ` table ${tbid}` : ''}${claim ? ` tot_len ${claim}` : ''}`, () => {
      compare(k, fd, dst, flag, claim, tbid);
    });
  }

  it('forwarding off on the device asked about: FWD_DISABLED, for IPv4 and IPv6, ingress and OUTPUT', () => {
    const sysctl = (v: number) => {
      for (const s of [`net.ipv4.conf.lo.forwarding=${v}`, `net.ipv6.conf.lo.forwarding=${v}`])
        assert.equal(run('ip', 'netns', 'exec', NS, 'sysctl', '-qw', s).status, 0);
    };
    sysctl(0);
    try {
      for (const [dst, flag] of [
        ['10.2.3.4', 0],
        ['2001:db8:2::5', 0],
        ['10.2.3.4', 2],
        ['10.1.0.1', 0],
        ['10.66.0.1', 1],
      ] as const) {
        assert.equal(compare(kOff, fdOff, dst, flag), 5, `${dst} flags ${flag}`);
      }
    } finally {
      sysctl(1);
    }
  });
});
