import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinkType, toEthernet } from '../../pcaps/linkType.js';
import { PcapWriter } from '../../pcaps/pcapWriter.js';
import { PcapngWriter, VerdictType } from '../../pcaps/pcapngWriter.js';
import { synthPackets } from '../../pcaps/synth.js';

const require = createRequire(import.meta.url);
const has = (cmd: string) => !spawnSync(cmd, ['--version']).error;
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));

function pcapParse(path: string): Promise<string[]> {
  const pcapp = require('pcap-parser');
  return new Promise((resolve, reject) => {
    const out: string[] = [];
    const parser = pcapp.parse(path);
    parser.on('packet', (p: { header: { timestampSeconds: number; timestampMicroseconds: number }; data: Buffer }) =>
      out.push(`${p.header.timestampSeconds}.${p.header.timestampMicroseconds} ${p.data.toString('hex')}`),
    );
    parser.on('end', () => resolve(out));
    parser.on('error', reject);
  });
}

describe('pcaps: writers', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bpfbox-pcapw-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('tcpdump reads what the pcap and pcapng writers write: the same packets come back out', async function () {
    if (!has('tcpdump')) this.skip(); // tcpdump is not installed (.ci/run installs it)
    const want: string[] = [];
    for (const [Writer, name] of [
      [PcapWriter, 'w.pcap'],
      [PcapngWriter, 'w.pcapng'],
    ] as const) {
      const path = join(dir, name);
      const w = new Writer(path);
      want.length = 0;
      for (const p of synthPackets({ packets: 500, seed: 3 })) {
        w.write(p);
        want.push(`${p.tsSec}.${Math.floor(p.tsNsec / 1000)} ${Buffer.from(p.data).toString('hex')}`);
      }
      w.close();
      const back = join(dir, `${name}.back.pcap`);
      const r = spawnSync('tcpdump', ['-r', path, '-w', back]);
      assert.equal(r.status, 0, r.stderr.toString());
      assert.deepEqual(await pcapParse(back), want, name);
    }
  });

  it('tshark shows the verdicts written as epb_verdict (XDP and tc)', function () {
    if (!has('tshark')) this.skip(); // tshark is not installed (.ci/run installs it)
    const path = join(dir, 'v.pcapng');
    const w = new PcapngWriter(path);
    const p = Array.from(synthPackets({ packets: 3 }), (x) => ({ ...x, data: x.data.slice() }));
    w.write(p[0], { type: VerdictType.LINUX_EBPF_XDP, value: 1 });
    w.write(p[1], { type: VerdictType.LINUX_EBPF_XDP, value: 4, comment: 'XDP_REDIRECT ifindex 3' });
    w.write(p[2], { type: VerdictType.LINUX_EBPF_TC, value: 2 });
    w.close();
    const r = spawnSync('tshark', [
      '-r',
      path,
      '-T',
      'fields',
      '-e',
      'frame.verdict.ebpf_xdp',
      '-e',
      'frame.verdict.ebpf_tc',
      '-e',
      'frame.comment',
      '-E',
      'separator=|',
    ]);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.deepEqual(r.stdout.toString().trim().split('\n'), ['1||', '4||XDP_REDIRECT ifindex 3', '|2|']);
  });

  it('turns raw IP, SLL and SLL2 packets into Ethernet frames (hand-computed headers)', () => {
    const ip4 = hex('45000020 00010000 4011f9c7 0a000001 e0000005 04d20035 000c0000 deadbeef');
    const ip6 = hex('60000000 00000000 ff02000000000000 0000000000000001 ff02000000000000 00000000 0a0b0c0d');
    assert.deepEqual(toEthernet(LinkType.LINKTYPE_RAW, ip4), hex(`000000000000 000000000000 0800 ${Buffer.from(ip4).toString('hex')}`));
    assert.deepEqual(toEthernet(LinkType.LINKTYPE_IPV6, ip6), hex(`000000000000 000000000000 86dd ${Buffer.from(ip6).toString('hex')}`));
    // SLL: multicast (2) from 02:00:00:00:00:07, to 224.0.0.5 -> 01:00:5e:00:00:05
    const sll = hex(`0002 0001 0006 020000000007 0000 0800 ${Buffer.from(ip4).toString('hex')}`);
    assert.deepEqual(
      toEthernet(LinkType.LINKTYPE_LINUX_SLL, sll),
      hex(`01005e000005 020000000007 0800 ${Buffer.from(ip4).toString('hex')}`),
    );
    // SLL2: IPv6 multicast to ff02::a0b:c0d -> 33:33:0a:0b:0c:0d
    const sll2 = hex(`86dd 0000 00000003 0001 02 06 020000000009 0000 ${Buffer.from(ip6).toString('hex')}`);
    assert.deepEqual(
      toEthernet(LinkType.LINKTYPE_LINUX_SLL2, sll2),
      hex(`33330a0b0c0d 020000000009 86dd ${Buffer.from(ip6).toString('hex')}`),
    );
    // broadcast SLL
    const bsll = hex(`0001 0001 0006 020000000007 0000 0806 0001`);
    assert.deepEqual(toEthernet(LinkType.LINKTYPE_LINUX_SLL, bsll), hex('ffffffffffff 020000000007 0806 0001'));
    assert.match(toEthernet(LinkType.LINKTYPE_RAW, hex('50')) as string, /version 5/);
    assert.match(toEthernet(LinkType.LINKTYPE_LINUX_SLL, hex('0000')) as string, /shorter than a 16-byte/);
    assert.match(toEthernet(105, hex('00')) as string, /link type 105 is not supported/);
  });
});
