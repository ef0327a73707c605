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
 */
export const LinkType = {
  LINKTYPE_ETHERNET: 1,
  LINKTYPE_RAW: 101,
  LINKTYPE_LINUX_SLL: 113,
  LINKTYPE_IPV4: 228,
  LINKTYPE_IPV6: 229,
  LINKTYPE_LINUX_SLL2: 276,
} as const;

const NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(LinkType).map(([k, v]) => [v, k]));

/** linkTypeName: LINKTYPE_ETHERNET, ... or "link type N". */
export const linkTypeName = (t: number): string => NAMES[t] ?? `link type ${t}`;

/** linkTypeSupported: whether bpfbox can turn packets of this link type into Ethernet frames. */
export const linkTypeSupported = (t: number): boolean => t in NAMES;

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
    default:
      return `${linkTypeName(linkType)} is not supported (Ethernet, raw IP, Linux SLL and SLL2 are)`;
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
