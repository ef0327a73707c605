/**
 * packets: a fixed set of test packets for the fidelity tests: ordinary UDP and TCP over
 * IPv4, runts, 802.1Q VLAN and QinQ, IPv6 with extension headers, a bad IPv4 header length,
 * a jumbo frame, ARP, and sources a firewall blocks.
 */
const mac = (s: string) => s.split(':').map((x) => parseInt(x, 16));
const be16 = (v: number) => [v >> 8, v & 0xff];
const ETH = (type: number, dst = 'ff:ff:ff:ff:ff:ff', src = '02:00:00:00:00:01') => [...mac(dst), ...mac(src), ...be16(type)];

function ipv4(proto: number, src: number[], dst: number[], payload: number[], ihl = 5): number[] {
  const total = 4 * Math.max(ihl, 5) + payload.length;
  const h = [0x40 | ihl, 0, ...be16(total), 0, 1, 0x40, 0, 64, proto, 0, 0, ...src, ...dst];
  while (h.length < 4 * Math.max(ihl, 5)) h.push(0);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (h[i] << 8) | h[i + 1];
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  const c = ~sum & 0xffff;
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return [...h, ...payload];
}
const udp = (sport: number, dport: number, body: number[]) => [...be16(sport), ...be16(dport), ...be16(8 + body.length), 0, 0, ...body];
const tcp = (sport: number, dport: number) => [...be16(sport), ...be16(dport), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0];
const bytes = (n: number, seed: number) => Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** PACKETS: name -> frame bytes. */
export const PACKETS: Readonly<Record<string, Uint8Array>> = Object.fromEntries(
  Object.entries({
    udp4: [...ETH(0x0800), ...ipv4(17, [10, 1, 2, 3], [10, 0, 0, 1], udp(1234, 53, bytes(12, 1)))],
    'tcp4 blocked source 10.1.x': [...ETH(0x0800, '02:00:00:00:00:02'), ...ipv4(6, [10, 1, 9, 9], [192, 168, 1, 1], tcp(40000, 443))],
    'tcp4 odd length': [...ETH(0x0800), ...ipv4(6, [172, 16, 0, 1], [172, 16, 0, 2], [...tcp(1, 2), 0xaa])],
    'runt (10 bytes)': ETH(0x0800).slice(0, 10),
    'bare ethernet header': ETH(0x88b5),
    'vlan 802.1Q': [...ETH(0x8100), 0x00, 0x05, ...be16(0x0800), ...ipv4(17, [10, 1, 2, 3], [10, 0, 0, 1], udp(5, 6, []))],
    'qinq 802.1ad + 802.1Q': [
      ...ETH(0x88a8),
      0x00,
      0x07,
      ...be16(0x8100),
      0x00,
      0x05,
      ...be16(0x0800),
      ...ipv4(17, [10, 9, 9, 9], [10, 0, 0, 1], udp(5, 6, bytes(3, 2))),
    ],
    'ipv6 with hop-by-hop and udp': [
      ...ETH(0x86dd, '33:33:00:00:00:01'),
      0x60,
      0,
      0,
      0,
      ...be16(8 + 8 + 4),
      0,
      64,
      ...Array(15).fill(0),
      1,
      ...Array(15).fill(0),
      2,
      17,
      0,
      1,
      4,
      0,
      0,
      0,
      0,
      ...udp(9, 10, bytes(4, 3)),
    ],
    'ipv4 bad header length': [...ETH(0x0800), ...ipv4(17, [10, 1, 2, 3], [10, 0, 0, 1], udp(1, 2, []), 3)],
    'jumbo 9000': [...ETH(0x0800), ...ipv4(17, [10, 2, 2, 2], [10, 0, 0, 1], udp(7, 8, bytes(9000 - 14 - 20 - 8, 4)))],
    'jumbo 9002 (linear part 3520, length not a multiple of 4)': [
      ...ETH(0x0800),
      ...ipv4(17, [10, 2, 2, 2], [10, 0, 0, 1], udp(7, 8, bytes(9002 - 14 - 20 - 8, 4))),
    ],
    'largest skb test run (3712)': [...ETH(0x0800), ...ipv4(17, [10, 2, 2, 3], [10, 0, 0, 1], udp(7, 8, bytes(3712 - 14 - 20 - 8, 5)))],
    'one byte over it (3713)': [...ETH(0x0800), ...ipv4(17, [10, 2, 2, 3], [10, 0, 0, 1], udp(7, 8, bytes(3713 - 14 - 20 - 8, 5)))],
    '3522 bytes (xdp sees 3520)': [...ETH(0x0800), ...ipv4(17, [10, 2, 2, 4], [10, 0, 0, 1], udp(7, 8, bytes(3522 - 14 - 20 - 8, 6)))],
    arp: [...ETH(0x0806), 0, 1, 8, 0, 6, 4, 0, 1, ...mac('02:00:00:00:00:01'), 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2],
  }).map(([k, v]) => [k, Uint8Array.from(v)]),
);
