import { ETH_P_IP, ETH_P_IPV6 } from '../uapi/ethernet.js';
import { PacketType } from '../uapi/skBuff.js';
/**
 * Link types (the tcpdump.org LINKTYPE_* registry) bpfbox reads, and how each becomes the
 * Ethernet frame XDP and tc programs expect. Ethernet is taken as is; raw IP and Linux cooked
 * captures (SLL, SLL2) get a synthesized 14-byte Ethernet header:
 *   - ethertype: the IP version nibble (raw IP), or the cooked header's protocol field;
 *   - source MAC: the cooked header's link-layer address when it is 6 bytes long, else zeros;
 *   - destination MAC: from the cooked packet type: broadcast ff:ff:ff:ff:ff:ff, multicast
 *     the IPv4 (01:00:5e + 23 bits) or IPv6 (33:33 + 32 bits) group MAC of the destination
 *     address, anything else (to us, outgoing, other host) zeros.
 * BSD loopback (NULL, LOOP: what macOS and the BSDs capture on lo0) gets the same header, both
 * MACs zeros (a loopback packet has no link addresses; Linux's lo sends zeros too), the
 * ethertype from the 4-byte address family before the packet: AF_INET is IPv4, any BSD's
 * AF_INET6 IPv6 (BSD_AF_INET6 below); NULL stores the family in the capturing host's byte order,
 * so, as libpcap and Wireshark do, a value with its upper 16 bits set is taken byte-swapped;
 * LOOP stores it in network byte order.
 */
export const LinkType = {
  /** DLT_NULL: BSD loopback, a 4-byte address family in the capturing host's byte order. */
  LINKTYPE_NULL: 0,
  LINKTYPE_ETHERNET: 1,
  LINKTYPE_RAW: 101,
  /** DLT_LOOP (OpenBSD's): BSD loopback, the address family in network byte order. */
  LINKTYPE_LOOP: 108,
  LINKTYPE_LINUX_SLL: 113,
  LINKTYPE_IPV4: 228,
  LINKTYPE_IPV6: 229,
  LINKTYPE_LINUX_SLL2: 276,
} as const;

/** BSD address families in a loopback header: AF_INET is 2 everywhere; AF_INET6 differs by system. */
export const BSD_AF = {
  AF_INET: 2,
  /** AF_INET6 of NetBSD, OpenBSD and BSD/OS. */
  AF_INET6_BSD: 24,
  /** AF_INET6 of FreeBSD and DragonFly BSD. */
  AF_INET6_FREEBSD: 28,
  /** AF_INET6 of macOS (Darwin). */
  AF_INET6_DARWIN: 30,
} as const;

/** The ethertype each loopback address family becomes. */
const FAMILY_ETHERTYPE: Readonly<Record<number, number>> = {
  [BSD_AF.AF_INET]: ETH_P_IP,
  [BSD_AF.AF_INET6_BSD]: ETH_P_IPV6,
  [BSD_AF.AF_INET6_FREEBSD]: ETH_P_IPV6,
  [BSD_AF.AF_INET6_DARWIN]: ETH_P_IPV6,
};

const NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(LinkType).map(([k, v]) => [v, k]));

/** linkTypeName: LINKTYPE_ETHERNET, ... or "link type N". */
export const linkTypeName = (t: number): string => NAMES[t] ?? `link type ${t}`;

/** linkTypeSupported: whether bpfbox can turn packets of this link type into Ethernet frames. */
export const linkTypeSupported = (t: number): boolean => t in NAMES;

/** SUPPORTED: the link types bpfbox reads, in words, for error messages. */
export const SUPPORTED = 'Ethernet, raw IP, Linux SLL and SLL2, BSD loopback NULL and LOOP are';

/**
 * toEthernet returns the packet as an Ethernet frame: `data` itself for Ethernet, a new
 * array for the others, or a string saying why it cannot be converted (a cooked header cut
 * short, a raw packet that is neither IPv4 nor IPv6).
 */
export function toEthernet(linkType: number, data: Uint8Array): Uint8Array | string {
  switch (linkType) {
    case LinkType.LINKTYPE_ETHERNET:
      return data;
    case LinkType.LINKTYPE_RAW:
    case LinkType.LINKTYPE_IPV4:
    case LinkType.LINKTYPE_IPV6: {
      const v = data.length ? data[0] >> 4 : 0;
      if (v !== 4 && v !== 6) return `raw IP packet of version ${v} (neither IPv4 nor IPv6)`;
      return frame(data, 0, v === 4 ? ETH_P_IP : ETH_P_IPV6, 0, undefined);
    }
    case LinkType.LINKTYPE_LINUX_SLL: {
      if (data.length < 16) return `${data.length} bytes: shorter than a 16-byte Linux cooked (SLL) header`;
      const dv = new DataView(data.buffer, data.byteOffset, data.length);
      const alen = dv.getUint16(4);
      return frame(data, 16, dv.getUint16(14), dv.getUint16(0), alen === 6 ? data.subarray(6, 12) : undefined);
    }
    case LinkType.LINKTYPE_LINUX_SLL2: {
      if (data.length < 20) return `${data.length} bytes: shorter than a 20-byte Linux cooked (SLL2) header`;
      const dv = new DataView(data.buffer, data.byteOffset, data.length);
      return frame(data, 20, dv.getUint16(0), data[10], data[11] === 6 ? data.subarray(12, 18) : undefined);
    }
    case LinkType.LINKTYPE_NULL:
    case LinkType.LINKTYPE_LOOP: {
      if (data.length < 4) return `${data.length} bytes: shorter than a 4-byte BSD loopback header`;
      const dv = new DataView(data.buffer, data.byteOffset, data.length);
      let family = dv.getUint32(0, linkType === LinkType.LINKTYPE_NULL);
      if (linkType === LinkType.LINKTYPE_NULL && family > 0xffff) family = dv.getUint32(0, false);
      const ethertype = FAMILY_ETHERTYPE[family];
      if (ethertype === undefined) return `BSD loopback address family ${family} (neither AF_INET 2 nor AF_INET6 24, 28 or 30)`;
      return frame(data, 4, ethertype, PacketType.PACKET_HOST, undefined);
    }
    default:
      return `${linkTypeName(linkType)} is not supported (${SUPPORTED})`;
  }
}

function frame(data: Uint8Array, skip: number, ethertype: number, pktType: number, src: Uint8Array | undefined): Uint8Array {
  const payload = data.subarray(skip);
  const out = new Uint8Array(14 + payload.length);
  out.set(payload, 14);
  if (pktType === PacketType.PACKET_BROADCAST) out.fill(0xff, 0, 6);
  else if (pktType === PacketType.PACKET_MULTICAST) out.set(groupMac(ethertype, payload), 0);
  if (src) out.set(src, 6);
  out[12] = ethertype >> 8;
  out[13] = ethertype & 0xff;
  return out;
}

/** groupMac: the multicast MAC of an IPv4 or IPv6 destination (RFC 1112, RFC 2464). */
function groupMac(ethertype: number, ip: Uint8Array): number[] {
  if (ethertype === ETH_P_IP && ip.length >= 20) return [0x01, 0x00, 0x5e, ip[17] & 0x7f, ip[18], ip[19]];
  if (ethertype === ETH_P_IPV6 && ip.length >= 40) return [0x33, 0x33, ip[36], ip[37], ip[38], ip[39]];
  return [0x01, 0, 0, 0, 0, 0];
}
