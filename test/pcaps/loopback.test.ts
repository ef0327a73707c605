import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinkType, linkTypeSupported, toEthernet } from '../../pcaps/linkType.js';
import { openCapture } from '../../pcaps/open.js';
import { REPO_ROOT } from '../support/paths.js';
import { type LoopbackFlavor, writeLoopbackCapture } from './loopbackCaptures.js';

const SAMPLE = join(REPO_ROOT, 'pcaps', 'sample.pcap');
const has = (cmd: string) => !spawnSync(cmd, ['--version']).error;
const hex = (b: Uint8Array | string) => (typeof b === 'string' ? b : Buffer.from(b).toString('hex'));

describe('pcaps: BSD loopback (DLT_NULL, DLT_LOOP) as Ethernet', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bpfbox-loop-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  // an IPv4 header's first bytes and an IPv6 header's (version nibbles 4 and 6)
  const ip4 = '4500001c';
  const ip6 = '60000000';
  const zeros = '000000000000000000000000';

  it('the family picks the ethertype: host order for NULL (either order), network order for LOOP; MACs are zeros', () => {
    const cases: [number, string, string][] = [
      [LinkType.LINKTYPE_NULL, '02000000' + ip4, zeros + '0800' + ip4], // AF_INET, little-endian host
      [LinkType.LINKTYPE_NULL, '00000002' + ip4, zeros + '0800' + ip4], // AF_INET, big-endian host
      [LinkType.LINKTYPE_NULL, '1e000000' + ip6, zeros + '86dd' + ip6], // AF_INET6 of macOS (30)
      [LinkType.LINKTYPE_NULL, '0000001c' + ip6, zeros + '86dd' + ip6], // AF_INET6 of FreeBSD (28), big-endian
      [LinkType.LINKTYPE_LOOP, '00000018' + ip6, zeros + '86dd' + ip6], // AF_INET6 of OpenBSD (24)
      [LinkType.LINKTYPE_LOOP, '00000002' + ip4, zeros + '0800' + ip4],
    ];
    for (const [lt, input, want] of cases) assert.equal(hex(toEthernet(lt, Buffer.from(input, 'hex'))), want, `${lt} ${input}`);
    assert.ok(linkTypeSupported(0) && linkTypeSupported(108));
  });

  it('refuses what it cannot convert, saying why', () => {
    assert.match(hex(toEthernet(LinkType.LINKTYPE_NULL, Buffer.from('0200', 'hex'))), /2 bytes: shorter than a 4-byte BSD loopback header/);
    // LOOP is network order: 02000000 there is family 0x02000000, not AF_INET
    assert.match(hex(toEthernet(LinkType.LINKTYPE_LOOP, Buffer.from('02000000' + ip4, 'hex'))), /address family 33554432/);
    assert.match(hex(toEthernet(LinkType.LINKTYPE_NULL, Buffer.from('07000000' + ip4, 'hex'))), /address family 7 \(neither AF_INET/);
  });

  const flavors: [string, LoopbackFlavor][] = [
    ['NULL, macOS', { linkType: LinkType.LINKTYPE_NULL, littleEndian: true, inet6: 30 }],
    ['NULL, big-endian FreeBSD', { linkType: LinkType.LINKTYPE_NULL, littleEndian: false, inet6: 28 }],
    ['LOOP, OpenBSD', { linkType: LinkType.LINKTYPE_LOOP, littleEndian: false, inet6: 24 }],
  ];
  for (const [name, flavor] of flavors)
    it(`tshark decodes a ${name} capture as bpfbox's Ethernet frames carry it (family, addresses, protocol, length)`, function () {
      if (!has('tshark')) this.skip(); // tshark is not installed (.ci/run installs it)
      const path = join(dir, `${name.replace(/\W+/g, '_')}.pcap`);
      const n = writeLoopbackCapture(SAMPLE, path, flavor);
      assert.ok(n > 100);
      const fields = ['frame.cap_len', 'ip.src', 'ip.dst', 'ip.proto', 'ipv6.src', 'ipv6.dst', 'ipv6.nxt'];
      const t = spawnSync('tshark', ['-r', path, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8' });
      assert.equal(t.status, 0, t.stderr);
      const theirs = t.stdout.replace(/\n$/, '').split('\n');
      const ours: string[] = [];
      const r = openCapture(path);
      for (let p = r.next(); p; p = r.next()) {
        const e = toEthernet(p.linkType, p.data);
        assert.ok(typeof e !== 'string', e as string);
        const b = Buffer.from(e);
        const v4 = b.readUInt16BE(12) === 0x0800;
        const ip4a = (o: number) => [...b.subarray(o, o + 4)].join('.');
        const ip6a = (o: number) => ipv6Text(b.subarray(o, o + 16));
        // the frame is the loopback record with 10 more bytes (a 14-byte Ethernet header for the 4-byte family)
        ours.push(
          [
            b.length - 10,
            v4 ? ip4a(26) : '',
            v4 ? ip4a(30) : '',
            v4 ? b[23] : '',
            v4 ? '' : ip6a(22),
            v4 ? '' : ip6a(38),
            v4 ? '' : b[20],
          ].join('\t'),
        );
      }
      r.close();
      assert.equal(ours.length, n);
      assert.deepEqual(ours, theirs);
    });
});

/** ipv6Text: an IPv6 address as tshark prints it (RFC 5952: lower case, the longest zero run as ::). */
function ipv6Text(a: Uint8Array): string {
  const g = Array.from({ length: 8 }, (_, i) => (a[2 * i] << 8) | a[2 * i + 1]);
  let best = [-1, 0];
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best[1] && j - i > 1) best = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const h = g.map((x) => x.toString(16));
  if (best[0] < 0) return h.join(':');
  return `${h.slice(0, best[0]).join(':')}::${h.slice(best[0] + best[1]).join(':')}`;
}
