import { Errno } from '../../uapi/errno.js';
import { type Helper, negErrno as neg, argU32 as u32 } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';

/** BPF_STRTOX_BASE_MASK: the base in the flags' low bits (0, 8, 10 or 16). */
const BPF_STRTOX_BASE_MASK = 0x1fn;
const U64 = (1n << 64n) - 1n;
/** isspace in the kernel's ctype: the ASCII spaces and Latin-1's no-break space. */
const isSpace = (c: number) => c === 0x20 || (c >= 9 && c <= 13) || c === 0xa0;
const digit = (c: number) =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : 99;

/**
 * strtoull: __bpf_strtoull (kernel/bpf/helpers.c): leading spaces, a '-', then at most 63
 * characters parsed as _parse_integer does (base 0 guesses 8, 10 or 16 from a 0 / 0x prefix).
 * Returns the characters consumed, the value and the sign, or a negative errno.
 */
function strtoull(s: Uint8Array, flags: bigint): { consumed: number; value: bigint; negative: boolean } | number {
  let base = Number(flags & BPF_STRTOX_BASE_MASK);
  if (!s.length || ![0, 8, 10, 16].includes(base) || flags & ~BPF_STRTOX_BASE_MASK) return -Errno.EINVAL;
  let i = 0;
  while (i < s.length && isSpace(s[i])) i++;
  const negative = i < s.length && s[i] === 0x2d;
  if (negative) i++;
  if (i === s.length) return -Errno.EINVAL;
  // a NUL-terminated copy of at most 63 bytes
  const str = Uint8Array.from([...s.subarray(i, i + 63), 0]);
  let p = 0;
  const lower = (c: number) => c | 0x20;
  if (base === 0) base = str[0] === 0x30 ? (lower(str[1]) === 0x78 && digit(str[2]) < 16 ? 16 : 8) : 10;
  if (base === 16 && str[0] === 0x30 && lower(str[1]) === 0x78) p = 2;
  let value = 0n;
  let overflow = false;
  let n = 0;
  for (; digit(str[p + n]) < base; n++) {
    const d = BigInt(digit(str[p + n]));
    if (value > (U64 - d) / BigInt(base)) overflow = true;
    value = (value * BigInt(base) + d) & U64;
  }
  if (overflow) return -Errno.ERANGE;
  if (n === 0) return -Errno.EINVAL;
  return { consumed: i + p + n, value, negative };
}

/**
 * stringHelpers: bpf_strtol (105), bpf_strtoul (106) (the result through a long pointer, the
 * characters consumed returned) and bpf_strncmp (182: -1, 0 or 1 as the kernel's strncmp).
 */
export function stringHelpers(rt: HookRuntime): Helper[] {
  const mem = () => rt.kernel.memory;
  const bytes = (buf: bigint, len: bigint) => mem().u8.subarray(u32(buf), u32(buf) + u32(len));
  return [
    {
      id: 105,
      name: 'bpf_strtol',
      fn: (buf, len, flags, res) => {
        // *res is written even on failure (0): the verifier treats it as written
        mem().view.setBigUint64(u32(res), 0n, true);
        const r = strtoull(bytes(buf, len), flags);
        if (typeof r === 'number') return neg(-r);
        // the value must fit a long with its sign
        const v = r.negative ? BigInt.asIntN(64, -r.value) : BigInt.asIntN(64, r.value);
        if (r.negative ? BigInt.asIntN(64, -r.value & U64) > 0n : v < 0n) return neg(Errno.ERANGE);
        mem().view.setBigInt64(u32(res), v, true);
        return BigInt(r.consumed);
      },
    },
    {
      id: 106,
      name: 'bpf_strtoul',
      fn: (buf, len, flags, res) => {
        // *res is written even on failure (0): the verifier treats it as written
        mem().view.setBigUint64(u32(res), 0n, true);
        const r = strtoull(bytes(buf, len), flags);
        if (typeof r === 'number') return neg(-r);
        if (r.negative) return neg(Errno.EINVAL);
        mem().view.setBigUint64(u32(res), r.value, true);
        return BigInt(r.consumed);
      },
    },
    {
      id: 182,
      name: 'bpf_strncmp',
      fn: (s1, size, s2) => {
        const u8 = mem().u8;
        const [a, b] = [u32(s1), u32(s2)];
        for (let i = 0; i < u32(size); i++) {
          const [c1, c2] = [u8[a + i], u8[b + i]];
          if (c1 !== c2) return c1 < c2 ? BigInt.asUintN(64, -1n) : 1n;
          if (!c1) break;
        }
        return 0n;
      },
    },
  ];
}
