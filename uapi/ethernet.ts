/**
 * Ethernet's numbers (include/uapi/linux/if_ether.h, if_packet.h): the header length and the
 * EtherTypes bpfbox reads, in host order (a context's `protocol` field holds them as the
 * big-endian 16 bits read little-endian: `htons`).
 */
export const ETH_HLEN = 14;
export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;

/** htons16 is a 16-bit value's network-order bytes read little-endian, as `__sk_buff.protocol` shows an EtherType. */
export const htons16 = (v: number): number => ((v & 0xff) << 8) | (v >> 8);
