import { hexMaps } from '../support/hexMaps.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { Errno, Kernel, ProgType, XdpAction, loadCollection, loadProgram, readCollection, replay, type ProgTestRunAttr } from 'bpfbox';
import { REPO_ROOT } from '../support/paths.js';

/**
 * The library face, imported by the package's name (Node resolves `bpfbox` to this checkout
 * through package.json's `exports`): the sample program run end to end on packets built here,
 * its return values and maps checked against values worked out by hand from bpf/xdp_stats.c.
 */

/** frame builds an Ethernet frame: 02:00:00:00:00:01 → 02:00:00:00:00:02, then `body`. */
function frame(ethertype: number, body: readonly number[]): Uint8Array {
  return Uint8Array.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, ethertype >> 8, ethertype & 0xff, ...body]);
}

/** ipv4 builds an IPv4 header (no options, TTL 64) from `src` to 10.0.0.9 carrying `l4` (a header and payload). */
function ipv4(proto: number, src: readonly number[], l4: readonly number[]): number[] {
  const total = 20 + l4.length;
  return [0x45, 0, total >> 8, total & 0xff, 0, 0, 0, 0, 64, proto, 0, 0, ...src, 10, 0, 0, 9, ...l4];
}

// 14 + 20 + 8 + 18 = 60 bytes: UDP 1234 → 53
const UDP = frame(0x0800, ipv4(17, [10, 0, 0, 1], [0x04, 0xd2, 0, 53, 0, 26, 0, 0, ...new Array(18).fill(0xab)]));
// 14 + 20 + 20 + 20 = 74 bytes: TCP 40000 → 80, data offset 5, ACK
const TCP = frame(
  0x0800,
  ipv4(6, [10, 0, 0, 2], [0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0, ...new Array(20).fill(0xcd)]),
);
// 14 + 28 = 42 bytes: an ARP request
const ARP = frame(0x0806, [0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 9]);

const u64 = (n: number | bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
};
const le32 = (n: number) => Uint8Array.from([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24]);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const OBJ = join(REPO_ROOT, 'bpf', 'xdp_stats.o');

describe("the library face, imported as 'bpfbox'", function () {
  this.timeout(60_000);

  it('loads xdp_stats.o with knobs set, test-runs hand-built packets, and reads its maps through the door', () => {
    const kernel = new Kernel({ runtime: { clock: () => 5000n, seed: 1 } });
    // drop UDP; sample every packet (prandom % 1 is always 0)
    const spec = readCollection(readFileSync(OBJ), { name: 'xdp_stats.o', set: { drop_proto: 17, sample_every: 1 } });
    assert.deepEqual(
      spec.programs.map((p) => [p.name, p.type]),
      [['xdp_stats', ProgType.BPF_PROG_TYPE_XDP]],
    );
    const coll = loadCollection(kernel.process, spec);
    try {
      const run = (data: Uint8Array) => {
        const attr: ProgTestRunAttr = {
          prog_fd: coll.programs.get('xdp_stats')!,
          data_in: data,
          data_out: new Uint8Array(256),
          data_size_out: 0,
          retval: 0,
        };
        assert.equal(kernel.bpf('BPF_PROG_TEST_RUN', attr), 0);
        return { retval: attr.retval, out: attr.data_out!.subarray(0, attr.data_size_out) };
      };
      assert.equal(run(UDP).retval, XdpAction.XDP_DROP, 'drop_proto=17 drops UDP');
      const tcp = run(TCP);
      assert.equal(tcp.retval, XdpAction.XDP_PASS);
      assert.deepEqual(tcp.out, TCP, 'a passed packet comes back unchanged');
      assert.equal(run(ARP).retval, XdpAction.XDP_PASS);

      const fd = (name: string) => coll.maps.get(name)!;
      const lookup = (map: string, key: Uint8Array, size: number): Uint8Array | number => {
        const value = new Uint8Array(size);
        const r = kernel.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd(map), key, value });
        return r < 0 ? r : value;
      };
      // proto_stats: key {ethertype (host order), ipproto, pad}; value {packets, bytes} (one CPU)
      const counters = (packets: number, bytes: number) => hex(Uint8Array.from([...u64(packets), ...u64(bytes)]));
      assert.equal(hex(lookup('proto_stats', Uint8Array.from([0x00, 0x08, 17, 0]), 16) as Uint8Array), counters(1, 60));
      assert.equal(hex(lookup('proto_stats', Uint8Array.from([0x00, 0x08, 6, 0]), 16) as Uint8Array), counters(1, 74));
      assert.equal(hex(lookup('proto_stats', Uint8Array.from([0x06, 0x08, 0, 0]), 16) as Uint8Array), counters(1, 42));
      // iterate: the three keys and no more
      const keys: string[] = [];
      const next = new Uint8Array(4);
      for (
        let key: Uint8Array | null = null;
        kernel.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: fd('proto_stats'), key, next_key: next }) === 0;
        key = next.slice()
      )
        keys.push(hex(next));
      assert.deepEqual(keys.sort(), ['00080600', '00081100', '06080000']);
      // size_hist: log2 buckets, 42 and 60 bytes in 5 (32..63), 74 in 6 (64..127)
      assert.deepEqual(
        [4, 5, 6, 7].map((b) => hex(lookup('size_hist', le32(b), 8) as Uint8Array)),
        [u64(0), u64(2), u64(1), u64(0)].map(hex),
      );
      // last_seen: the IPv4 sources, at the clock's 5000 ns; ARP has none
      assert.equal(hex(lookup('last_seen', Uint8Array.from([10, 0, 0, 1]), 8) as Uint8Array), hex(u64(5000)));
      assert.equal(hex(lookup('last_seen', Uint8Array.from([10, 0, 0, 2]), 8) as Uint8Array), hex(u64(5000)));
      assert.equal(lookup('last_seen', Uint8Array.from([10, 0, 0, 9]), 8), -Errno.ENOENT);
      // sampled: every packet, dropped ones too; reset it, delete a key, run again
      assert.equal(hex(lookup('sampled', le32(0), 8) as Uint8Array), hex(u64(3)));
      assert.equal(kernel.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd('sampled'), key: le32(0), value: u64(0) }), 0);
      assert.equal(kernel.bpf('BPF_MAP_DELETE_ELEM', { map_fd: fd('last_seen'), key: Uint8Array.from([10, 0, 0, 1]) }), 0);
      assert.equal(lookup('last_seen', Uint8Array.from([10, 0, 0, 1]), 8), -Errno.ENOENT);
      run(TCP);
      assert.equal(hex(lookup('sampled', le32(0), 8) as Uint8Array), hex(u64(1)));
      assert.equal(hex(lookup('proto_stats', Uint8Array.from([0x00, 0x08, 6, 0]), 16) as Uint8Array), counters(2, 148));
    } finally {
      coll.close();
    }
  });

  it("verifies with a log as `bpfbox verify` does: the kernel's message for a refused program", () => {
    // test/fixtures/bpf/xdp_fault.c reads a map value without checking it for NULL
    const spec = readCollection(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'bpf', 'xdp_fault.o')), { name: 'xdp_fault.o' });
    const kernel = new Kernel();
    const maps = loadCollection(kernel.process, spec, { mapsOnly: true });
    const r = loadProgram(kernel.process, spec, spec.programs[0], maps.maps, 1);
    assert.equal(r.fd, -1);
    assert.equal(r.errno, Errno.EACCES);
    assert.match(r.log, /R0 invalid mem access 'map_value_or_null'/);
    maps.close();
  });

  it('replays a capture written here on a worker thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpfbox-face-'));
    try {
      // pcap: the global header (LINKTYPE_ETHERNET), then a 16-byte header per record
      const records = [UDP, TCP, ARP].flatMap((p, i) => [
        ...le32(1_767_225_600 + i),
        ...le32(0),
        ...le32(p.length),
        ...le32(p.length),
        ...p,
      ]);
      const pcap = join(dir, 'three.pcap');
      writeFileSync(
        pcap,
        Uint8Array.from([...le32(0xa1b2c3d4), 2, 0, 4, 0, ...le32(0), ...le32(0), ...le32(65535), ...le32(1), ...records]),
      );
      const s = await replay({ captures: [pcap], obj: OBJ, workers: 1, set: { drop_proto: 17n } });
      assert.equal(s.packets, 3);
      assert.equal(s.bytes, 60 + 74 + 42);
      assert.deepEqual(s.verdict_names, { XDP_DROP: 1, XDP_PASS: 2 });
      assert.deepEqual(hexMaps(s.maps).proto_stats['00081100'], [hex(Uint8Array.from([...u64(1), ...u64(60)]))]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every export has a doc comment that starts with its name', () => {
    const file = join(REPO_ROOT, 'index.ts');
    const program = ts.createProgram([file], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      types: [],
      noLib: true,
      noEmit: true,
    });
    const checker = program.getTypeChecker();
    const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)!)!);
    assert.ok(exports.length > 40, `only ${exports.length} exports`);
    const undocumented = exports.filter((s) => {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      return !ts.displayPartsToString(target.getDocumentationComment(checker)).startsWith(s.name);
    });
    assert.deepEqual(
      undocumented.map((s) => s.name),
      [],
    );
  });
});
