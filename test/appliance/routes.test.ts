import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRouteTable } from '../../appliance/config/routes.js';
import { REPO_ROOT } from '../support/paths.js';
import { bpfbox, tempState } from './cliSupport.js';

/** `--routes FILE`: the table bpf_fib_lookup consults, checked field by field, used by `prog run`. */
describe('--routes: the route table for bpf_fib_lookup', function () {
  this.timeout(60_000); // the CLI cases spawn bpfbox six times
  const dir = mkdtempSync(join(tmpdir(), 'bpfbox-routes-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, doc: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, typeof doc === 'string' ? doc : JSON.stringify(doc));
    return p;
  };
  const TABLE = {
    routes: [
      { dst: '10.1.0.0/24', ifindex: 3, smac: '02:00:00:00:00:01' },
      { dst: '10.2.0.0/16', ifindex: 3, gateway: '10.1.0.2', smac: '02:00:00:00:00:01', mtu: 1500, metric: 5 },
      { dst: '10.66.0.0/16', ifindex: 0, kind: 'blackhole' },
      { dst: '2001:db8::/32', ifindex: 4 },
    ],
    neighbours: [{ ip: '10.1.0.2', mac: '02:00:00:00:00:aa' }],
  };

  it('reads a table as written', () => {
    const t = readRouteTable(file('ok.json', TABLE));
    assert.deepEqual(t.neighbours, TABLE.neighbours);
    assert.deepEqual(
      t.routes.map((r) => JSON.parse(JSON.stringify(r))),
      TABLE.routes,
    );
    assert.equal(t.devices, undefined, 'no devices: the loopback device, forwarding');
    const d = readRouteTable(file('dev.json', { ...TABLE, devices: [{ ifindex: 1, forwarding: false }, { ifindex: 3 }] }));
    assert.deepEqual(d.devices, [
      { ifindex: 1, forwarding: false },
      { ifindex: 3, forwarding: true },
    ]);
  });

  const BAD: readonly [string, unknown, string][] = [
    ['not JSON', '{"routes": [', '(file)'],
    ['a list at the top', [], '(top)'],
    ['an unknown key', { routes: [], neigbours: [] }, 'neigbours: unknown key'],
    ['a short address', { routes: [{ dst: '10.1.0/24', ifindex: 1 }] }, 'routes[0].dst: "10.1.0/24" is not an address/prefix'],
    ['a prefix too long', { routes: [{ dst: '10.0.0.0/33', ifindex: 1 }] }, 'routes[0].dst'],
    ['no ifindex', { routes: [{ dst: '10.0.0.0/8' }] }, 'routes[0].ifindex: undefined is not an integer'],
    ['a gateway of the other family', { routes: [{ dst: '10.0.0.0/8', ifindex: 1, gateway: '::1' }] }, 'routes[0].gateway'],
    ['an unknown kind', { routes: [{ dst: '10.0.0.0/8', ifindex: 1, kind: 'throw' }] }, 'routes[0].kind: "throw" is not one of'],
    ['a bad MAC', { neighbours: [{ ip: '10.0.0.1', mac: '02:00:00:00:00' }] }, 'neighbours[0].mac'],
    ['a device without an ifindex', { devices: [{ forwarding: true }] }, 'devices[0].ifindex: undefined is not an integer'],
    [
      'a forwarding flag that is not a boolean',
      { devices: [{ ifindex: 1, forwarding: 'no' }] },
      'devices[0].forwarding: "no" is not true or false',
    ],
    ['a negative MTU', { routes: [{ dst: '10.0.0.0/8', ifindex: 1, mtu: -1 }] }, 'routes[0].mtu: -1'],
  ];
  for (const [name, doc, want] of BAD) {
    it(`refuses ${name}, naming the file and the field`, () => {
      const p = file('bad.json', doc);
      assert.throws(
        () => readRouteTable(p),
        (e: Error) => e.message.startsWith(`${p}: `) && e.message.includes(want),
      );
    });
  }

  it('prog run: bpf/xdp_fib.o answers from the table (codes worked out by hand from it)', () => {
    const state = tempState();
    try {
      assert.equal(bpfbox(state, 'prog', 'loadall', join(REPO_ROOT, 'bpf', 'xdp_fib.o'), '/sys/fs/bpf/fib').code, 0);
      const table = file('t.json', TABLE);
      // Ethernet + IPv4 (UDP, 10.9.0.1 -> dst) + 64 bytes of payload, flag byte 0
      const packet = (dst: number[]) =>
        Uint8Array.from([
          2,
          0,
          0,
          0,
          0,
          1,
          2,
          0,
          0,
          0,
          0,
          15,
          8,
          0,
          0x45,
          0,
          0,
          84,
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
          ...dst,
          ...Array(64).fill(0),
        ]);
      const cases: [number[], number][] = [
        [[10, 2, 3, 4], 0],
        [[10, 1, 0, 9], 7],
        [[10, 66, 1, 1], 1],
        [[11, 0, 0, 1], 4],
      ];
      for (const [dst, code] of cases) {
        const pkt = file('pkt.bin', '');
        writeFileSync(pkt, packet(dst));
        const r = bpfbox(state, '--routes', table, '-j', 'prog', 'run', 'pinned', '/sys/fs/bpf/fib/xdp_fib', 'data_in', pkt);
        assert.equal(r.code, 0, r.err);
        assert.equal(JSON.parse(r.out).retval, code, dst.join('.'));
      }
      writeFileSync(join(dir, 'pkt.bin'), packet([10, 2, 3, 4]));
      const noTable = bpfbox(state, '-j', 'prog', 'run', 'pinned', '/sys/fs/bpf/fib/xdp_fib', 'data_in', join(dir, 'pkt.bin'));
      assert.equal(JSON.parse(noTable.out).retval, 4, 'without a table nothing is forwarded (10.2.3.4: NOT_FWDED)');
      const bad = bpfbox(state, '--routes', join(dir, 'bad.json'), 'prog', 'show');
      assert.equal(bad.code, 255);
      assert.match(bad.err, /^Error: .*bad\.json: routes\[0\]\.mtu/);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it('the devices of the table are the ones bpf_clone_redirect may send to (tc_clone: ifindex 4242)', function () {
    this.timeout(20_000);
    const state = tempState();
    try {
      const pkt = join(dir, 'pkt.bin');
      writeFileSync(pkt, Uint8Array.from([...Array(12).fill(2), 8, 0, 0x45, ...Array(45).fill(0)]));
      const obj = join(REPO_ROOT, 'bpf', 'tc_clone.o');
      const codes = (routes: string) => {
        const r = bpfbox(state, '--routes', routes, '-j', 'prog', 'load', obj, '/sys/fs/bpf/clone');
        assert.equal(r.code, 0, r.err);
        const out = bpfbox(state, '-j', '--routes', routes, 'prog', 'run', 'pinned', '/sys/fs/bpf/clone', 'data_in', pkt);
        require_ok(out);
        const v = JSON.parse(out.out).retval >>> 0;
        return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
      };
      const require_ok = (r: { code: number; err: string }) => assert.equal(r.code, 0, r.err);
      // without 4242 among the devices: -EINVAL (0xea) for it; with it: 0; an unknown flag is -EINVAL either way
      const without = codes(file('lo.json', { routes: [], devices: [{ ifindex: 1 }] }));
      rmSync(join(state, 'clone'), { force: true });
      const withIt = codes(file('dev.json', { routes: [], devices: [{ ifindex: 1 }, { ifindex: 4242 }] }));
      assert.deepEqual(without, [0, 0, 0xea, 0xea]);
      assert.deepEqual(withIt, [0, 0, 0, 0xea]);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});
