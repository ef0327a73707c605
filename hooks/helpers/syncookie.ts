import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno as neg, argU32 as u32 } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';

/**
 * The kernel's SYN cookies (net/ipv4/syncookies.c, net/ipv6/syncookies.c): a cookie is
 * hash0(addrs, ports) + the client's sequence + (minute << 24) + ((hash1(addrs, ports, minute)
 * + the MSS index) mod 2^24), the hashes SipHash-2-4 under two secrets drawn once per boot
 * (here: once per process, so every CPU's runtime agrees). A cookie checks within
 * MAX_SYNCOOKIE_AGE minutes.
 */
const COOKIEBITS = 24;
const COOKIEMASK = (1 << COOKIEBITS) - 1;
const MAX_SYNCOOKIE_AGE = 2;
/** msstab (IPv4) and msstab (IPv6: 1280, 1480, 1500 and 9000 less 60). */
const MSSTAB_V4 = [536, 1300, 1440, 1460];
const MSSTAB_V6 = [1220, 1420, 1440, 8940];
/** TCP_MSS_DEFAULT; IPv6's clamp IPV6_MIN_MTU - sizeof(tcphdr) - sizeof(ipv6hdr). */
const TCP_MSS_DEFAULT = 536;
const IPV6_MSS_CLAMP = 1280 - 20 - 40;
const TCPOPT_EOL = 0;
const TCPOPT_NOP = 1;
const TCPOPT_MSS = 2;
const TCPOLEN_MSS = 4;
/**
 * syncookie_secret[2] and syncookie6_secret[2]: 16-byte SipHash keys, drawn at the first cookie
 * (as the kernel's net_get_random_once), not at load: a worker that makes none loads no crypto.
 */
let secrets: { readonly v4: Uint8Array[]; readonly v6: Uint8Array[] } | undefined;
const key = () => globalThis.crypto.getRandomValues(new Uint8Array(16));
const secret = (v6: boolean, c: number) => (secrets ??= { v4: [key(), key()], v6: [key(), key()] })[v6 ? 'v6' : 'v4'][c];

const M64 = (1n << 64n) - 1n;
const rotl = (x: bigint, b: bigint) => ((x << b) | (x >> (64n - b))) & M64;

/** siphash: SipHash-2-4 of `data` under the 16-byte `key` (lib/siphash.c), 64 bits. */
export function siphash(data: Uint8Array, key: Uint8Array): bigint {
  const kv = new DataView(key.buffer, key.byteOffset, 16);
  const k0 = kv.getBigUint64(0, true);
  const k1 = kv.getBigUint64(8, true);
  let v0 = 0x736f6d6570736575n ^ k0;
  let v1 = 0x646f72616e646f6dn ^ k1;
  let v2 = 0x6c7967656e657261n ^ k0;
  let v3 = 0x7465646279746573n ^ k1;
  const round = () => {
    v0 = (v0 + v1) & M64;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M64;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & M64;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & M64;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const full = data.length & ~7;
  const dv = new DataView(data.buffer, data.byteOffset, data.length);
  const block = (m: bigint) => {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  };
  for (let i = 0; i < full; i += 8) block(dv.getBigUint64(i, true));
  let last = BigInt(data.length & 0xff) << 56n;
  for (let i = full; i < data.length; i++) last |= BigInt(data[i]) << BigInt(8 * (i - full));
  block(last);
  v2 ^= 0xffn;
  for (let i = 0; i < 4; i++) round();
  return (v0 ^ v1 ^ v2 ^ v3) & M64;
}

/** Addresses and ports of a TCP/IP header pair, as the cookie hashes them. */
interface Flow {
  readonly v6: boolean;
  readonly saddr: Uint8Array;
  readonly daddr: Uint8Array;
  /** th->source and th->dest, their bytes as they are on the wire. */
  readonly ports: Uint8Array;
}

/** cookieHash: cookie_hash(saddr, daddr, sport, dport, count, c), the low 32 bits. */
function cookieHash(f: Flow, count: number, c: 0 | 1): number {
  const buf = new Uint8Array(f.v6 ? 40 : 16);
  const dv = new DataView(buf.buffer);
  buf.set(f.saddr, 0);
  buf.set(f.daddr, f.v6 ? 16 : 4);
  // IPv4: siphash_4u32(saddr, daddr, sport << 16 | dport, count); IPv6: saddr, daddr, count, sport, dport
  const sport = f.ports[0] | (f.ports[1] << 8);
  const dport = f.ports[2] | (f.ports[3] << 8);
  if (f.v6) {
    dv.setUint32(32, count, true);
    buf.set(f.ports, 36);
  } else {
    dv.setUint32(8, ((sport << 16) | dport) >>> 0, true);
    dv.setUint32(12, count, true);
  }
  return Number(siphash(buf, secret(f.v6, c)) & 0xffffffffn);
}

/** tcpParseMssOption: tcp_parse_mss_option(th, 0): the MSS option among the header's options, 0 without one. */
function tcpParseMssOption(u8: Uint8Array, th: number): number {
  let p = th + 20;
  let length = (u8[th + 12] >> 4) * 4 - 20;
  let mss = 0;
  while (length > 0) {
    const opcode = u8[p++];
    if (opcode === TCPOPT_EOL) return mss;
    if (opcode === TCPOPT_NOP) {
      length--;
      continue;
    }
    if (length < 2) return mss;
    const opsize = u8[p++];
    if (opsize < 2 || opsize > length) return mss;
    if (opcode === TCPOPT_MSS && opsize === TCPOLEN_MSS) {
      const m = (u8[p] << 8) | u8[p + 1];
      if (m) mss = m;
    }
    p += opsize - 2;
    length -= opsize;
  }
  return mss;
}

/**
 * syncookieHelpers: bpf_tcp_raw_gen_syncookie_ipv4 (204) / _ipv6 (205), pure functions of the
 * headers: the cookie for a SYN and, in the upper 32 bits, the MSS it encodes;
 * bpf_tcp_raw_check_syncookie_ipv4 (206) / _ipv6 (207): 0 when an ACK carries a valid cookie
 * (ack_seq - 1), else -EACCES.
 */
export function syncookieHelpers(rt: HookRuntime): Helper[] {
  const u8 = () => rt.kernel.memory.u8;
  const clock = rt.options.clock ?? (() => process.hrtime.bigint());
  /** tcp_cookie_time: minutes (jiffies / (60 * HZ)). */
  const minute = () => Number((clock() / 60_000_000_000n) & 0xffffffffn);
  const flow = (ip: number, th: number, v6: boolean): Flow => {
    const m = u8();
    return {
      v6,
      saddr: m.slice(ip + (v6 ? 8 : 12), ip + (v6 ? 24 : 16)),
      daddr: m.slice(ip + (v6 ? 24 : 16), ip + (v6 ? 40 : 20)),
      ports: m.slice(th, th + 4),
    };
  };
  const be32 = (a: number) => new DataView(u8().buffer, u8().byteOffset).getUint32(a, false);
  const gen = (iph: bigint, thp: bigint, thLen: bigint, v6: boolean): bigint => {
    const [ip, th, len] = [u32(iph), u32(thp), u32(thLen)];
    const m = u8();
    if (len < 20 || len !== (m[th + 12] >> 4) * 4) return neg(Errno.EINVAL);
    const tab = v6 ? MSSTAB_V6 : MSSTAB_V4;
    const mss = tcpParseMssOption(m, th) || (v6 ? IPV6_MSS_CLAMP : TCP_MSS_DEFAULT);
    let ind = tab.length - 1;
    while (ind && mss < tab[ind]) ind--;
    const f = flow(ip, th, v6);
    const count = minute();
    const cookie =
      (cookieHash(f, 0, 0) + be32(th + 4) + ((count << COOKIEBITS) >>> 0) + ((cookieHash(f, count, 1) + ind) & COOKIEMASK)) >>> 0;
    return BigInt(cookie) | (BigInt(tab[ind]) << 32n);
  };
  const check = (iph: bigint, thp: bigint, v6: boolean): bigint => {
    const [ip, th] = [u32(iph), u32(thp)];
    const f = flow(ip, th, v6);
    const count = minute();
    let cookie = (be32(th + 8) - 1) >>> 0;
    const seq = (be32(th + 4) - 1) >>> 0;
    cookie = (cookie - ((cookieHash(f, 0, 0) + seq) >>> 0)) >>> 0;
    const diff = (count - (cookie >>> COOKIEBITS)) & (0xffffffff >>> COOKIEBITS);
    if (diff >= MAX_SYNCOOKIE_AGE) return neg(Errno.EACCES);
    const ind = ((cookie - cookieHash(f, (count - diff) >>> 0, 1)) >>> 0) & COOKIEMASK;
    return ind < (v6 ? MSSTAB_V6 : MSSTAB_V4).length ? 0n : neg(Errno.EACCES);
  };
  return [
    { id: 204, name: 'bpf_tcp_raw_gen_syncookie_ipv4', fn: (iph, th, len) => gen(iph, th, len, false) },
    { id: 205, name: 'bpf_tcp_raw_gen_syncookie_ipv6', fn: (iph, th, len) => gen(iph, th, len, true) },
    { id: 206, name: 'bpf_tcp_raw_check_syncookie_ipv4', fn: (iph, th) => check(iph, th, false) },
    { id: 207, name: 'bpf_tcp_raw_check_syncookie_ipv6', fn: (iph, th) => check(iph, th, true) },
  ];
}
